"""The variables a Jinja template reads from its context, from its tree alone.

``jinja2.meta.find_undeclared_variables`` answers this by running the compiler's code
generator over the whole tree with its output thrown away: every expression is formatted
into Python source just to learn, at each frame the generator enters, which names that
frame resolves from the context. Those names are decided when the frame is made
(``Symbols.analyze_node``), not by the code written after it; :func:`undeclared` makes the
same frames, the same way, and reads the same loads, without generating code.

The frames are the compiler's (``jinja2/compiler.py``): the template, each block, a loop's
body, ``else`` and filter test, ``with``, ``filter`` blocks, ``set`` blocks, scopes, macro
and call-block bodies (with the ``loop``, ``self``, ``super``, ``caller``, ``kwargs`` and
``varargs`` parameters they declare); ``if`` and conditional expressions share their
parent's symbols. A template the compiler could refuse (an unknown filter or test, an
``extends``, a block defined twice, a ``caller`` argument, an assignment to ``loop``) or a
node this walker does not know goes to ``jinja2.meta`` instead, so its answer and its
errors stay exactly the compiler's.
"""

from __future__ import annotations

from typing import Any

_NO_FRAME = (  # statements with no body of their own, or none the compiler frames
    "Output",
    "ExprStmt",
    "Assign",
    "Include",
    "Import",
    "FromImport",
    "Block",  # framed on its own, from the template
    "Break",
    "Continue",
    "EvalContextModifier",
)


class _Refused(Exception):
    """Leave this template to jinja2.meta."""


def undeclared(ast: Any) -> set[str]:
    """``jinja2.meta.find_undeclared_variables(ast)``, without code generation."""
    try:
        return _Walker(ast.environment).template(ast)
    except _Refused:
        from jinja2 import meta

        return set(meta.find_undeclared_variables(ast))


class _Walker:
    def __init__(self, environment: Any) -> None:
        from jinja2 import compiler, idtracking, nodes

        self.env, self.nodes, self.idtracking = environment, nodes, idtracking
        self.Frame, self.find = compiler.Frame, compiler.find_undeclared
        self.found: set[str] = set()

    def template(self, node: Any) -> set[str]:
        n = self.nodes
        blocks = []
        for found in node.find_all((n.Filter, n.Test, n.Extends, n.Block)):  # one walk
            if isinstance(found, n.Block):
                blocks.append(found)
            elif isinstance(found, n.Extends):
                raise _Refused
            elif found.name not in (
                self.env.filters if isinstance(found, n.Filter) else self.env.tests
            ):
                raise _Refused  # the compiler's error, or not, depends on the frame
        if len({b.name for b in blocks}) != len(blocks):
            raise _Refused
        ctx = n.EvalContext(self.env, "<introspection>")
        frame = self.Frame(ctx)
        if "self" in self.find(node.body, ("self",)):
            frame.symbols.declare_parameter("self")
        frame.symbols.analyze_node(node)
        self.enter(frame)
        self.body(node.body, frame)
        for block in blocks:
            block_frame = self.Frame(ctx)
            used = self.find(block.body, ("self", "super"))
            for name in ("self", "super"):
                if name in used:
                    block_frame.symbols.declare_parameter(name)
            block_frame.symbols.analyze_node(block)
            self.enter(block_frame)
            self.body(block.body, block_frame)
        return self.found

    def enter(self, frame: Any) -> None:
        resolve, env_globals = self.idtracking.VAR_LOAD_RESOLVE, self.env.globals
        for action, param in frame.symbols.loads.values():
            if action == resolve and param not in env_globals:
                self.found.add(param)

    def body(self, statements: Any, frame: Any) -> None:
        for node in statements:
            self.statement(node, frame)

    def inner(self, node: Any, frame: Any, **kw: Any) -> Any:
        f = frame.inner(**kw)
        f.symbols.analyze_node(node)
        self.enter(f)
        return f

    def statement(self, node: Any, frame: Any) -> None:
        kind = type(node).__name__
        if kind in _NO_FRAME:
            return
        if kind == "If":
            soft = frame.soft()
            self.body(node.body, soft)
            for elif_ in node.elif_:
                self.body(elif_.body, soft)
            self.body(node.else_, soft)
        elif kind == "For":
            self.loop(node, frame)
        elif kind in ("Macro", "CallBlock"):
            self.macro(node, frame)
        elif kind in ("With", "FilterBlock", "AssignBlock", "Scope"):
            self.body(node.body, self.inner(node, frame))
        elif kind == "OverlayScope":
            self.body(node.body, self.inner(node, frame, isolated=True))
        elif kind == "ScopedEvalContextModifier":
            self.body(node.body, frame)
        else:
            raise _Refused  # a node of an extension: the compiler knows what it does

    def loop(self, node: Any, frame: Any) -> None:
        n = self.nodes
        if any(m.ctx == "store" and m.name == "loop" for m in node.find_all(n.Name)):
            raise _Refused
        loop_frame = frame.inner()
        loop_frame.loop_frame = True
        if (
            node.recursive
            or "loop" in self.find(node.iter_child_nodes(only=("body",)), ("loop",))
            or any(b.scoped for b in node.find_all(n.Block))
        ):
            loop_frame.symbols.declare_parameter("loop")
        loop_frame.symbols.analyze_node(node, for_branch="body")
        self.enter(loop_frame)
        self.body(node.body, loop_frame)
        if node.test:
            test_frame = frame.inner()
            test_frame.symbols.analyze_node(node, for_branch="test")
            self.enter(test_frame)
        if node.else_:
            else_frame = frame.inner()
            else_frame.symbols.analyze_node(node, for_branch="else")
            self.enter(else_frame)
            self.body(node.else_, else_frame)

    def macro(self, node: Any, frame: Any) -> None:
        if any(a.name == "caller" for a in node.args):
            raise _Refused
        f = frame.inner()
        f.symbols.analyze_node(node)
        skip = {a.name for a in node.args if a.name in ("kwargs", "varargs")}
        used = self.find(node.body, ("caller", "kwargs", "varargs"))
        for name in ("caller", "kwargs", "varargs"):
            if name in used and name not in skip:
                f.symbols.declare_parameter(name)
        f.symbols.analyze_node(node)
        self.enter(f)
        self.body(node.body, f)
