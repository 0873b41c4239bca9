"""Streaming readers for record files (batch inputs and suite data files): JSON Lines,
a JSON array, CSV/TSV.

Every reader yields :class:`Record` values one at a time, so a file of any size is read
in constant memory. A record that cannot be read (a malformed line, a missing column, a
byte that is not UTF-8, a record larger than the limit) is yielded with ``error`` set and
the reading goes on; only problems with the whole file (it does not exist, it is not a
JSON array, the CSV header is unusable) raise :class:`InputError`.

Records are numbered from 1 in file order (bad ones included), so the same file gives the
same numbers on every read: an interrupted run resumes by skipping the numbers it finished.

``reader`` (:class:`RecordReader`) opens a file and picks the format; ``jsonl``,
``json_array`` and ``csv`` read one format each over ``lines``; ``record`` holds the
:class:`Record` type and what every format shares; ``mapping`` turns a record's fields
into variables. Import from the module that holds a name (this package re-exports nothing,
so that reading a pipeline file, which only needs ``record.FORMATS``, stays cheap).
"""

from __future__ import annotations
