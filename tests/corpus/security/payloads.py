"""The denial-of-service payloads of the bad-input corpus (issue "Trust boundaries",
items 6 and 7), shared by the tests and ``bench/bench_dos.py``. Each is built here
rather than stored, since the point of most is their size."""

from __future__ import annotations


def laughs(depth: int, prefix: str = "") -> str:
    """Billion laughs: ``a{k}`` is a list of ten aliases of ``a{k-1}`` (10**depth values)."""
    lines = [f'{prefix}a0: &a0 "lol"']
    for k in range(1, depth + 1):
        lines.append(f"{prefix}a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 10)}]")
    return "\n".join(lines) + "\n"


def flow(depth: int = 5000) -> str:
    """``x: [[[[...]]]]``, ``depth`` levels in flow style on one line."""
    return "x: " + "[" * depth + "]" * depth + "\n"


def block_sequences(depth: int = 5000) -> str:
    """Block sequences nested ``depth`` deep on one line (``- - - ... - x``)."""
    return "x:\n  " + "- " * depth + "x\n"


def block_mappings(depth: int = 1000) -> str:
    """Block mappings nested ``depth`` deep, one space of indent per level."""
    return "x:\n" + "".join(" " * i + "k:\n" for i in range(1, depth)) + " " * depth + "k: v\n"


def prompt(frontmatter: str) -> str:
    return f"---\nid: bomb\n{frontmatter}---\nuser:\nhi\n"


# name -> (frontmatter YAML, line of the error inside it (1-based), words of the message)
YAML = {
    "laughs8": (laughs(8), 7, "expands to more than 1,000,000 values"),
    "laughs9": (laughs(9), 7, "expands to more than 1,000,000 values"),
    "flow5000": (flow(5000), 1, "nests deeper than 200 levels"),
    "flow_map5000": ("x: " + "{a: " * 5000 + "}" * 5000 + "\n", 1, "nests deeper than 200"),
    "block_seq5000": (block_sequences(5000), 2, "nests deeper than 200 levels"),
    "block_map1000": (block_mappings(1000), 201, "nests deeper than 200 levels"),
    "recursive": ("a: &a [1, *a]\n", 1, "recursive structure"),
}

# name -> template expression (the body of ``user:``); each must be refused over the limit
RENDER = {
    "format_filter_width": "{{ '%999999999s'|format(1) }}",
    "str_format_precision": "{{ '{:.999999999f}'.format(1.0) }}",
    "percent_precision": "{{ '%.999999999f' % 1.0 }}",
    "indent_width": "{{ 'a\\nb'|indent(999999) }}",
    "indent_many_lines": "{{ ('x\\n' * 400000)|indent(999999) }}",
    "indent_string_width": "{{ ('x\\n' * 400000)|indent('y' * 999999) }}",
    "percent_zero_pad": "{{ '%0999999999d' % 1 }}",
    "percent_star_width": "{{ '%*s' % (999999999, 'x') }}",
    "percent_star_precision": "{{ '%.*f' % (999999999, 1.0) }}",
    "percent_mapping_key": "{{ '%(a)999999999s' % {'a': 1} }}",
    "percent_shared_refs": "{{ '%s' % ((['x' * 999999] * 1000),) }}",
    "join_method_1gb": "{{ ','.join(['x' * 999999] * 1000) }}",
    "join_filter_1gb": "{{ (['x' * 999999] * 1000)|join(',') }}",
    "join_separator": "{{ (range(100000)|list)|join('x' * 999999) }}",
    "str_format_nested_kw": "{{ '{:{w}}'.format(1, w=999999999) }}",
    "str_format_nested_auto": "{{ '{:{}}'.format(1, '999999999') }}",
    "str_format_width": "{{ '{0:>999999999}'.format('x') }}",
    "format_map_width": "{{ '{a:999999999}'.format_map({'a': 1}) }}",
    "center_method": "{{ 'x'.center(999999999) }}",
    "center_filter": "{{ 'x'|center(999999999) }}",
    "ljust_method": "{{ 'x'.ljust(999999999) }}",
    "rjust_method": "{{ 'x'.rjust(999999999) }}",
    "zfill_method": "{{ 'x'.zfill(999999999) }}",
    "wordwrap_wrapstring": "{{ ('x ' * 400000)|wordwrap(1, wrapstring='y' * 1000) }}",
    "truncate_length": "{{ ('x' * 999999)|truncate(999999999) }}",
    "replace_method": "{{ ('a' * 999999).replace('a', 'bb') }}",
    "replace_filter": "{{ ('a' * 999999)|replace('a', 'bb') }}",
    "replace_empty_old": "{{ ('a' * 999)|replace('', 'b' * 9999) }}",
    "repeat_string": "{{ 'x' * 999999999 }}",
    "print_shared_refs": "{{ ['x' * 999999] * 1000 }}",
    "concat_tilde": "{{ ('x' * 999999) ~ ('x' * 999999) }}",
    "expandtabs": "{{ ('\\t' * 1000).expandtabs(999999) }}",
    "translate_table": "{{ ('a' * 1000).translate({97: 'b' * 999999}) }}",
    "tojson_shared_refs": "{{ (['x' * 999999] * 1000)|tojson }}",
    "tojson_indent": "{{ (range(10000)|list)|tojson(indent=999) }}",
    "string_filter_refs": "{{ (['x' * 999999] * 1000)|string }}",
    "batch_fill": "{{ [1]|batch(999999999, 'x')|list }}",
}
