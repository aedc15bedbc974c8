"""What the commands (``mrt-bench``, ``mrt-regret``, ``mrt-train``, ``mrt-pretrain``,
``mrt-data``, ``mrt-grade``) share on the command line: typed configs whose ``--help`` comes
from their field docs, a bad command line or setting that ends in one line of error (exit
status 2), and failures turned into exit statuses."""

from __future__ import annotations

import contextlib
import io
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mrt_env.config import Config, deferred_validation, validate_tree
from mrt_env.errors import ConfigError, MrtError
from mrt_env.threads import set_threads

__all__ = [
    "CommandConfig",
    "Preset",
    "exit_status",
    "flag_names",
    "parse_command",
    "plain_help",
    "presets_help",
    "take_preset",
]


@dataclass(frozen=True)
class CommandConfig(Config):
    """Base of the commands' frozen config dataclasses: a config checks itself when it is
    built (:meth:`validate`), except inside :func:`parse_command`, which checks it (and the
    value objects nested in it: ``--model.*``, ``--prover.*``, ...) right after the command
    line is parsed. (A command line is parsed first and validated after: tyro catches a
    ValueError raised while it builds a config and prints it in a multi-line box.)

    Every command has ``--threads`` (:func:`mrt_env.threads.set_threads`), applied by
    :func:`parse_command` before any model is loaded."""

    threads: int | None = field(default=None, kw_only=True)
    """CPU threads torch computes with (default: one per core). Idle threads wait passively,
    so two runs on one machine share its cores instead of spinning against each other."""


@dataclass(frozen=True)
class Preset:
    """Named settings of a command: ``--preset NAME`` sets them, flags given too override
    them. ``settings`` is a whole config (the command's defaults) or flags (put before the
    command line's own)."""

    summary: str
    """One line for ``--help``: what the preset is for and what it sets."""
    settings: Any
    """A config of the command's class, or a tuple of command-line flags."""


def parse_command(
    cls: type,
    prog: str,
    argv: Sequence[str] | None = None,
    *,
    description: str | None = None,
    default: Any = None,
    presets: Mapping[str, Preset] | None = None,
    renamed: Mapping[str, str] | None = None,
) -> Any:
    """``cls`` from the command line (``--help`` from its field docs), or None after printing
    one line ``prog: error: ...`` for a bad command line (an unknown flag, a missing or
    malformed value) or a bad setting; the command then exits with status 2.

    ``cls`` is usually a :class:`~mrt_env.config.Config` (checked as a whole after parsing,
    so an error names its flag); another dataclass may raise an
    :class:`~mrt_env.errors.MrtError` while it is built, which is reported the same way.

    ``presets``: the command's named settings, taken by ``--preset NAME`` and listed in
    ``--help``. ``renamed``: flags an earlier version took -> the flag now; an old one still
    works, with one line on stderr naming the new one.
    """
    import tyro

    args = list(sys.argv[1:] if argv is None else argv)
    if renamed:
        args = _renamed_flags(prog, args, renamed)
    if presets:
        try:
            name, args = take_preset(args, list(presets))
        except ConfigError as exc:
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return None
        listed = presets_help({n: p.summary for n, p in presets.items()})
        description = f"{description}\n{listed}" if description else listed
        chosen = presets[name].settings if name else None
        if isinstance(chosen, tuple):  # flags: before the command line's own, which win
            args = [*chosen, *args]
        elif chosen is not None:
            default = chosen
    argv = args
    flags = flag_names(cls)
    if description is not None:
        description = plain_help(description, flags)
    try:
        with deferred_validation(), _one_line_parse_errors(prog), _plain_help_text(flags):
            config = tyro.cli(
                cls,
                args=None if argv is None else list(argv),
                default=default,
                prog=prog,
                description=description,
            )
    except _CommandLineError as exc:
        print(f"{prog}: error: {exc} (see {prog} --help)", file=sys.stderr)
        return None
    try:
        if isinstance(config, Config):
            validate_tree(config)
        if isinstance(config, CommandConfig):
            set_threads(config.threads)
    except MrtError as exc:  # anything else is a bug in a validate(): keep its traceback
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return None
    return config


# --------------------------------------------------------------------------------------------
# --help as plain text. The configs' docstrings are written for help() and the API reference
# (reST roles, ``literals``, $math$, field names); a terminal shows them as typed.

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const|math):`([^`]+)`")
_LITERAL = re.compile(r"``(.+?)``", re.S)
_MATH = re.compile(r"\$([^$\n]+)\$")
_SNAKE = re.compile(r"(?<![\w.-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w-])")


def flag_names(cls: type) -> dict[str, str]:
    """Each field of the config ``cls`` (nested ones by their dotted path, and by their own
    name where no other field has it) -> the flag tyro gives it (``problems_per_step`` ->
    ``--problems-per-step``, ``model.base_url`` -> ``--model.base-url``); a positional field
    -> its name as the usage line writes it (``TRACES``)."""
    import dataclasses
    import typing

    paths: dict[str, str] = {}
    leaves: dict[str, list[str]] = {}

    def walk(kind: Any, prefix: str, depth: int) -> None:
        if depth > 4 or not dataclasses.is_dataclass(kind):
            return
        try:
            hints = typing.get_type_hints(kind, include_extras=True)
        except Exception:  # noqa: BLE001 - an unresolvable annotation: names without types
            hints = {}
        for f in dataclasses.fields(kind):
            path = prefix + f.name
            hint = hints.get(f.name)
            positional = "Positional" in repr(hint)
            flag = f.name.upper() if positional else "--" + path.replace("_", "-")
            paths[path] = flag
            leaves.setdefault(f.name, []).append(flag)
            nested = f.default if dataclasses.is_dataclass(f.default) else hint
            nested = typing.get_args(nested)[0] if typing.get_args(nested) else nested
            walk(nested if isinstance(nested, type) else type(f.default), path + ".", depth + 1)

    walk(cls, "", 0)
    names = {leaf: flags[0] for leaf, flags in leaves.items() if len(flags) == 1}
    return {**names, **paths}


def plain_help(text: str, flags: Mapping[str, str] | None = None) -> str:
    """``text`` as a terminal shows it: roles as their names, ``literals`` and $math$ without
    their marks, and a field's name (in ``...`` or a snake_case word) as its flag.

    >>> plain_help(":func:`~mrt_env.cli.parse_command` reads ``problems_per_step``",
    ...            {"problems_per_step": "--problems-per-step"})
    'parse_command reads --problems-per-step'
    """
    flags = flags or {}

    def role(match: re.Match[str]) -> str:
        target = "".join(match.group(1).split())
        if target.startswith("~"):
            target = target[1:].rsplit(".", 1)[-1]
        return target.lstrip(".")

    text = _ROLE.sub(role, text)
    text = _LITERAL.sub(lambda m: flags.get(m.group(1), m.group(1)), text)
    text = _MATH.sub(lambda m: m.group(1), text)
    return _SNAKE.sub(lambda m: flags.get(m.group(0), m.group(0)), text)


_JOINED = re.compile(r"(?<=\S)\n(?!\s|[*-] |\d+[.)] )")


def reflow(text: str) -> str:
    r"""A field's docstring with one line per paragraph: the line breaks the source
    wrapped it at become spaces, so the terminal's help wraps it at its own width. Blank
    lines, indented lines and lines that open a list item (``* ``, ``- ``, ``1. ``) stay.

    >>> reflow("Idle threads wait passively,\nso two runs share the cores.\n\n* one\n* two")
    'Idle threads wait passively, so two runs share the cores.\n\n* one\n* two'
    """
    return _JOINED.sub(" ", text)


@contextlib.contextmanager
def _plain_help_text(flags: Mapping[str, str]) -> Iterator[None]:
    """While tyro builds a command line: its help texts through :func:`plain_help`, and an
    empty sequence default said as "(default: none)" rather than "(default: )".

    tyro reads docstrings through module functions of its private ``_docstrings`` and builds
    each argument with ``_fields.FieldDefinition.make``; where this tyro has neither, help
    stays as the docstrings wrote it (a worse --help, never a failure)."""
    try:
        import dataclasses

        from tyro import _docstrings, _fields

        originals = (
            _docstrings.get_field_docstring,
            _docstrings.get_callable_description,
            _fields.FieldDefinition.make,
        )
    except (ImportError, AttributeError):
        yield
        return
    field_doc, callable_doc, make = originals

    def plain_field_doc(*args: Any, **kwargs: Any) -> str | None:
        text = field_doc(*args, **kwargs)
        return None if text is None else reflow(plain_help(text, flags))

    def plain_callable_doc(*args: Any, **kwargs: Any) -> str:
        return plain_help(callable_doc(*args, **kwargs), flags)

    def make_field(*args: Any, **kwargs: Any) -> Any:
        made = make(*args, **kwargs)
        try:
            empty = isinstance(made.default, (tuple, list)) and not made.default
            if empty and made.argconf.help_behavior_hint is None:
                argconf = dataclasses.replace(made.argconf, help_behavior_hint="(default: none)")
                made = dataclasses.replace(made, argconf=argconf)
        except (AttributeError, TypeError):  # another tyro's field: its own hint stays
            pass
        return made

    _docstrings.get_field_docstring = plain_field_doc
    _docstrings.get_callable_description = plain_callable_doc
    _fields.FieldDefinition.make = staticmethod(make_field)  # type: ignore[method-assign]
    try:
        yield
    finally:
        _docstrings.get_field_docstring = field_doc
        _docstrings.get_callable_description = callable_doc
        _fields.FieldDefinition.make = staticmethod(make)  # type: ignore[method-assign]


class _CommandLineError(MrtError):
    """tyro rejected the command line; the message is one line without the program's name.
    (Not a ValueError: tyro must not take it for a failure of its own to construct a value.)"""


@contextlib.contextmanager
def _one_line_parse_errors(prog: str) -> Iterator[None]:
    """tyro reports a bad command line in a box of several lines and exits; inside this
    block it raises :class:`_CommandLineError` with one line instead.

    The words come from tyro's parse-error hook where this tyro has it (the facts: which
    flag, which value); otherwise, and for a failure the hook does not describe, from the
    box tyro printed, squeezed onto one line."""
    hook_context: Any = contextlib.nullcontext()
    try:
        from tyro import _errors as tyro_errors  # private; absent before tyro 1.0

        hook_context = tyro_errors.on_parse_error(_raise_one_line)
    except (ImportError, AttributeError):
        pass
    captured = io.StringIO()
    try:
        with hook_context, contextlib.redirect_stderr(captured):
            yield
    except SystemExit as exc:
        if exc.code not in (0, None):  # tyro's error exit; 0 is --help, printed to stdout
            raise _CommandLineError(_squeeze(captured.getvalue()) or "bad command line") from None
        sys.stderr.write(captured.getvalue())
        raise
    sys.stderr.write(captured.getvalue())  # warnings printed while parsing, if any


def _raise_one_line(event: Any) -> None:
    """tyro's parse-error hook: a one-line :class:`_CommandLineError` for the failures the
    commands can meet. Any other, or an event this code cannot read (the hook's types are
    tyro's private ones), falls through to tyro's box, which the caller squeezes."""
    try:
        message = _describe(event)
    except Exception:  # noqa: BLE001 - tyro's private types changed: the box still comes
        return
    if message:
        raise _CommandLineError(message)


def _describe(event: Any) -> str | None:
    kind = type(event).__name__
    argument = getattr(event, "argument", None)
    name = _flag_name(argument) if argument is not None else None
    if kind == "UnrecognizedArgs":
        words = [t for t in event.tokens if t.startswith("-")] or list(event.tokens)
        return f"unrecognized argument{_s(words)} {' '.join(words)}"
    if kind == "MissingArgs":
        names = [_flag_name(a.arg) for a in event.missing_arguments]
        message = f"missing argument{_s(names)} {', '.join(names)}"
        if event.unrecognized_tokens:
            words = event.unrecognized_tokens
            message += f"; unrecognized argument{_s(words)} {' '.join(words)}"
        return message
    if kind == "BadValue" and name:
        if event.reason == "too_few_values":
            return f"{name} needs a value"
        return f"{name} takes no value, got {event.offending_value!r}"
    if kind == "InvalidChoice" and name:
        choices = ", ".join(map(str, event.choices))
        return f"{name} must be one of {choices}; got {event.value!r}"
    if kind == "InstantiationFailure":
        message = " ".join(str(event.message).split())
        return f"{name}: {message}" if name and name not in message else message
    return None


def _flag_name(argument: Any) -> str:
    """``--model.name`` for a flag; a positional argument as its usage line writes it
    (``TRACES``)."""
    name = str(argument.display_name())
    return name.upper() if argument.is_positional() else name


def _s(items: Sequence[Any]) -> str:
    return "s" if len(items) > 1 else ""


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _squeeze(text: str) -> str:
    """The message of tyro's error box (or of an argparse-style ``usage: ... error: ...``)
    on one line: the box's first section, without its frame, title and help footer."""
    text = _ANSI.sub("", text)
    if "╭" not in text:  # no box: argparse's "usage: ...\nprog: error: message"
        return " ".join(text.rpartition("error:")[2].split())
    title, body = "", []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("╭"):
            title = line.strip("╭╮─ ")
            continue
        if line.startswith("╰"):
            break
        line = line.strip("│").strip()
        if line and set(line) <= {"─"}:  # a rule: the first section (the message) ends
            if body:
                break
            continue
        if line:
            body.append(line)
    message = " ".join(body) or title
    if message[:1].isupper() and not message[1:2].isupper():
        message = message[0].lower() + message[1:]
    return message


def _renamed_flags(prog: str, args: list[str], renamed: Mapping[str, str]) -> list[str]:
    """``args`` with each old flag (``--old`` or ``--old=value``) replaced by its new name,
    saying so on stderr once per flag.

    >>> _renamed_flags("cmd", ["--alpha=2", "--x"], {"--alpha": "--credit.alpha"})
    ['--credit.alpha=2', '--x']
    """
    out = []
    for arg in args:
        flag, eq, value = arg.partition("=")
        new = renamed.get(flag) if flag.startswith("--") else None
        if new is None:
            out.append(arg)
            continue
        print(f"{prog}: warning: {flag} is deprecated, use {new}", file=sys.stderr)
        out.append(f"{new}{eq}{value}")
    return out


def take_preset(args: Sequence[str], names: Sequence[str]) -> tuple[str | None, list[str]]:
    """Split ``--preset NAME`` (or ``--preset=NAME``) off a command line: the name (None
    when absent) and the other arguments, in order.

    >>> take_preset(["--out", "x", "--preset", "a"], ["a", "b"])
    ('a', ['--out', 'x'])

    Raises:
        ConfigError: a name not in ``names``, or ``--preset`` without one.
    """
    args, name = list(args), None
    for i, arg in enumerate(args):
        if arg == "--preset" or arg.startswith("--preset="):
            given = arg.partition("=")[2] if "=" in arg else None
            if given is None:
                given = args[i + 1] if i + 1 < len(args) else ""
                del args[i : i + 2]
            else:
                del args[i]
            name = given
            break
    if name is not None and name not in names:
        raise ConfigError(f"--preset must be one of {sorted(names)}, got {name!r}")
    return name, args


def presets_help(presets: Mapping[str, str]) -> str:
    """The lines ``--help`` shows for the presets: one per name, with what it sets."""
    lines = ["presets (--preset NAME sets these defaults; flags given after override them):"]
    lines += [f"  {name}: {summary}" for name, summary in presets.items()]
    return "\n".join(lines)


def exit_status(
    prog: str,
    work: Callable[[], object],
    rows_path: Path,
    *,
    resume: str = "Run the same command again to resume.",
) -> int:
    """Run a resumable command's ``work`` and turn its end into an exit status.

    A failure the user can fix (an :class:`~mrt_env.errors.MrtError`: bad data or settings,
    a backend error; or an ``OSError``: a file problem) is one line on stderr and status 1;
    anything else is a bug and keeps its traceback. Ctrl-C says where the finished rows are
    and how to resume (130).
    """
    try:
        work()
    except (MrtError, OSError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"\ninterrupted; what was finished is in {rows_path}. {resume}",
            file=sys.stderr,
        )
        return 130
    return 0
