"""Tab completion for bash, zsh and fish, written from the argparse parser itself.

``describe`` reads the parser into plain values (commands, their options and arguments,
and what each value completes to); one small writer per shell turns them into a script.
So a flag added to ``parser.py`` is completed without touching this module. What a value
completes to comes from its metavar: :data:`FILE_METAVARS` are paths, :data:`DIR_METAVARS`
directories, ``choices`` their words, anything else nothing (a number, ``NAME=VALUE``).

Our own code rather than a library: shtab writes bash and zsh but not fish, argcomplete
runs Python on every Tab press (mplat's start-up is a noticeable pause), and the parser is
small enough that the three writers stay short and are tested against the real shells.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "DIR_METAVARS",
    "FILE_METAVARS",
    "SHELLS",
    "Cli",
    "Command",
    "Option",
    "Positional",
    "describe",
    "script",
]

SHELLS = ("bash", "zsh", "fish")
FILE_METAVARS = frozenset({"PATH", "FILE", "PLAN"})
DIR_METAVARS = frozenset({"DIR"})


@dataclass(frozen=True)
class Values:
    """What a value completes to: ``files``, ``dirs``, these ``words``, or nothing."""

    files: bool = False
    dirs: bool = False
    words: tuple[str, ...] = ()


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]  # "-f", "--file"
    help: str
    metavar: str | None  # None: a flag without a value
    values: Values
    repeatable: bool


@dataclass(frozen=True)
class Positional:
    metavar: str
    help: str
    values: Values
    many: bool  # nargs "*" or "+"
    optional: bool  # nargs "?" or "*"


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    options: tuple[Option, ...]
    positionals: tuple[Positional, ...]


@dataclass(frozen=True)
class Cli:
    prog: str
    options: tuple[Option, ...]  # before the command: --help, --version
    commands: tuple[Command, ...]


def describe(parser: argparse.ArgumentParser) -> Cli:
    """The commands, options and arguments of ``parser`` (one level of subcommands)."""
    commands: list[Command] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                options, positionals = _arguments(sub)
                commands.append(Command(name, _short(helps.get(name, "")), options, positionals))
    options, _ = _arguments(parser)
    return Cli(parser.prog, options, tuple(commands))


def script(shell: str, cli: Cli) -> str:
    """The completion script for ``shell`` (one of :data:`SHELLS`)."""
    writers: dict[str, Callable[[Cli], list[str]]] = {
        "bash": _bash,
        "zsh": _zsh,
        "fish": _fish,
    }
    return "\n".join(writers[shell](cli)) + "\n"


def _arguments(
    parser: argparse.ArgumentParser,
) -> tuple[tuple[Option, ...], tuple[Positional, ...]]:
    options: list[Option] = []
    positionals: list[Positional] = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
            continue
        text = _short(_expand(parser, action))
        if action.option_strings:
            flags = tuple(action.option_strings)
            repeat = isinstance(action, argparse._AppendAction | argparse._CountAction)
            if action.nargs == 0:  # a flag: store_true, version, help
                options.append(Option(flags, text, None, Values(), repeat))
            else:
                metavar = _metavar(action)
                options.append(Option(flags, text, metavar, _values(action, metavar), repeat))
        else:
            metavar = _metavar(action)
            positionals.append(
                Positional(
                    metavar,
                    text,
                    _values(action, metavar),
                    many=action.nargs in ("*", "+"),
                    optional=action.nargs in ("?", "*"),
                )
            )
    return tuple(options), tuple(positionals)


def _metavar(action: argparse.Action) -> str:
    if isinstance(action.metavar, str):
        return action.metavar
    return action.dest.upper()


def _values(action: argparse.Action, metavar: str) -> Values:
    if action.choices is not None:
        return Values(words=tuple(str(choice) for choice in action.choices))
    return Values(files=metavar in FILE_METAVARS, dirs=metavar in DIR_METAVARS)


def _expand(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help text as --help shows it (``%(default)s`` filled in)."""
    text = action.help or ""
    if "%" not in text:
        return text
    params = {k: v for k, v in vars(action).items() if v is not argparse.SUPPRESS}
    return text % {**params, "prog": parser.prog}


def _short(text: str) -> str:
    """A help text's first clause, on one line: a menu has room for little more."""
    text = " ".join(text.split())
    for stop in (" (", "; ", ": "):
        text = text.split(stop, 1)[0]
    return text


# bash


def _bash(cli: Cli) -> list[str]:
    fn = f"_{_identifier(cli.prog)}"
    out = [
        f"# bash completion for {cli.prog}, printed by `{cli.prog} completion bash`.",
        f"# Load it in this shell: source <({cli.prog} completion bash)",
        f"# or for every shell: {cli.prog} completion bash >"
        f" ~/.local/share/bash-completion/completions/{cli.prog}",
        f'{fn}_words() {{ mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur"); }}',
        f"{fn}_files() {{",
        "    compopt -o filenames 2>/dev/null",
        '    mapfile -t COMPREPLY < <(compgen -f -- "$cur")',
        "}",
        f"{fn}_dirs() {{",
        "    compopt -o filenames 2>/dev/null",
        '    mapfile -t COMPREPLY < <(compgen -d -- "$cur")',
        "}",
        f"{fn}() {{",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="" cmd="" i',
        '    ((COMP_CWORD > 0)) && prev="${COMP_WORDS[COMP_CWORD-1]}"',
        "    # --flag=value: bash splits it at '=' into three words",
        '    if [[ $cur == "=" ]]; then',
        '        cur=""',
        '    elif [[ $prev == "=" ]] && ((COMP_CWORD > 1)); then',
        '        prev="${COMP_WORDS[COMP_CWORD-2]}"',
        "    fi",
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        case "${COMP_WORDS[i]}" in',
        "            -*) ;;",
        '            *) cmd="${COMP_WORDS[i]}"; break ;;',
        "        esac",
        "    done",
        "    COMPREPLY=()",
        '    case "$cmd" in',
        '        "")',
        *_bash_case(fn, cli.options, (), [c.name for c in cli.commands], "            "),
        "            ;;",
    ]
    for command in cli.commands:
        out.append(f"        {_bash_quote(command.name)})")
        out.extend(_bash_case(fn, command.options, command.positionals, [], "            "))
        out.append("            ;;")
    out += ["    esac", "}", f"complete -F {fn} {cli.prog}"]
    return out


def _bash_case(
    fn: str,
    options: Sequence[Option],
    positionals: Sequence[Positional],
    commands: Sequence[str],
    pad: str,
) -> list[str]:
    out: list[str] = []
    valued = [o for o in options if o.metavar is not None]
    if valued:
        out.append(f'{pad}case "$prev" in')
        free = [flag for o in valued if not _any_values(o.values) for flag in o.flags]
        for option in valued:
            if _any_values(option.values):
                flags = "|".join(_bash_quote(flag) for flag in option.flags)
                out.append(f"{pad}    {flags}) {_bash_values(fn, option.values)}; return ;;")
        if free:  # a number, NAME=VALUE, a reference: nothing to offer
            out.append(f"{pad}    {'|'.join(_bash_quote(flag) for flag in free)}) return ;;")
        out.append(f"{pad}esac")
    flags = f"{fn}_words {_bash_quote(' '.join(flag for o in options for flag in o.flags))}"
    if commands:
        rest = f"{fn}_words {_bash_quote(' '.join(commands))}"
    elif not positionals:
        rest = flags
    elif _any_values(positionals[0].values):
        rest = _bash_values(fn, positionals[0].values)
    else:
        rest = ":"  # free text, such as a repository
    if rest == flags:
        out.append(f"{pad}{flags}")
    else:
        out.append(f"{pad}if [[ $cur == -* ]]; then {flags}; else {rest}; fi")
    return out


def _bash_values(fn: str, values: Values) -> str:
    if values.words:
        return f"{fn}_words {_bash_quote(' '.join(values.words))}"
    if values.dirs:
        return f"{fn}_dirs"
    if values.files:
        return f"{fn}_files"
    return ":"


def _bash_quote(text: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_./:=-]+", text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


# zsh


def _zsh(cli: Cli) -> list[str]:
    fn = f"_{_identifier(cli.prog)}"
    out = [
        f"#compdef {cli.prog}",
        f"# zsh completion for {cli.prog}, printed by `{cli.prog} completion zsh`.",
        f'# Install: {cli.prog} completion zsh > "${{fpath[1]}}/{fn}", then start a new shell;',
        f"# or load it in this shell (after compinit): source <({cli.prog} completion zsh)",
        "",
        f"{fn}() {{",
        '  local curcontext="$curcontext" state line',
        "  typeset -A opt_args",
        "  _arguments -C \\",
        *(f"    {spec} \\" for spec in _zsh_options(cli.options)),
        "    '1:command:->command' \\",
        "    '*::argument:->argument'",
        "  case $state in",
        "    command)",
        "      local -a commands",
        "      commands=(",
        *(f"        {_zsh_quote(f'{c.name}:{c.help}')}" for c in cli.commands),
        "      )",
        f"      _describe -t commands {_zsh_quote(cli.prog + ' command')} commands",
        "      ;;",
        "    argument)",
        f'      curcontext="${{curcontext%:*:*}}:{cli.prog}-$words[1]:"',
        "      case $words[1] in",
    ]
    for command in cli.commands:
        specs = [*_zsh_options(command.options), *_zsh_positionals(command.positionals)]
        out.append(f"        {_zsh_quote(command.name)})")
        if specs:
            out.append("          _arguments \\")
            out.extend(f"            {spec} \\" for spec in specs[:-1])
            out.append(f"            {specs[-1]}")
        else:
            out.append("          _message 'no more arguments'")
        out.append("          ;;")
    out += [
        "      esac",
        "      ;;",
        "  esac",
        "}",
        "",
        f'if [[ "$funcstack[1]" == {fn} ]]; then  # autoloaded from $fpath',
        f'  {fn} "$@"',
        "else  # sourced",
        f"  compdef {fn} {cli.prog}",
        "fi",
    ]
    return out


def _zsh_options(options: Sequence[Option]) -> list[str]:
    specs = []
    for option in options:
        star = "*" if option.repeatable else ""
        text = f"[{_zsh_text(option.help)}]"
        for flag in option.flags:
            if option.metavar is None:
                specs.append(_zsh_quote(f"{star}{flag}{text}"))
                continue
            joiner = "=" if flag.startswith("--") else "+"
            action = _zsh_action(option.values)
            value = f":{_zsh_message(option.metavar)}:{action}"
            specs.append(_zsh_quote(f"{star}{flag}{joiner}{text}{value}"))
    return specs


def _zsh_positionals(positionals: Sequence[Positional]) -> list[str]:
    specs = []
    for arg in positionals:
        lead = "*:" if arg.many else ("::" if arg.optional else ":")
        specs.append(_zsh_quote(f"{lead}{_zsh_message(arg.metavar)}:{_zsh_action(arg.values)}"))
    return specs


def _zsh_action(values: Values) -> str:
    if values.words:
        return "(" + " ".join(values.words) + ")"
    if values.dirs:
        return "_files -/"
    if values.files:
        return "_files"
    return " "  # a single space: show the message, complete nothing


def _zsh_text(text: str) -> str:
    """Text inside an _arguments spec's [description]."""
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def _zsh_message(text: str) -> str:
    """An _arguments message: its colons would end it."""
    return text.replace("\\", "\\\\").replace(":", "\\:")


def _zsh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


# fish


def _fish(cli: Cli) -> list[str]:
    prog = cli.prog
    out = [
        f"# fish completion for {prog}, printed by `{prog} completion fish`.",
        f"# Install: {prog} completion fish > ~/.config/fish/completions/{prog}.fish",
        f"complete -c {prog} -f",
    ]
    top = "__fish_use_subcommand"
    out.extend(_fish_option(prog, top, option) for option in cli.options)
    for command in cli.commands:
        out.append(
            f"complete -c {prog} -n {top} -a {_fish_quote(command.name)}"
            f" -d {_fish_quote(command.help)}"
        )
    for command in cli.commands:
        seen = _fish_quote(f"__fish_seen_subcommand_from {command.name}")
        out.extend(_fish_option(prog, seen, option) for option in command.options)
        for arg in command.positionals:
            if _any_values(arg.values):
                out.append(f"complete -c {prog} -n {seen}{_fish_values(arg.values)}")
    return out


def _fish_option(prog: str, condition: str, option: Option) -> str:
    parts = [f"complete -c {prog} -n {condition}"]
    for flag in option.flags:
        if flag.startswith("--"):
            parts.append(f"-l {_fish_quote(flag[2:])}")
        elif len(flag) == 2:
            parts.append(f"-s {_fish_quote(flag[1:])}")
        else:
            parts.append(f"-o {_fish_quote(flag[1:])}")
    line = " ".join(parts)
    if option.metavar is not None:
        line += _fish_values(option.values) or " -x"
    return f"{line} -d {_fish_quote(option.help)}"


def _fish_values(values: Values) -> str:
    if values.words:
        return f" -x -a {_fish_quote(' '.join(values.words))}"
    if values.dirs:
        return " -x -a '(__fish_complete_directories)'"
    if values.files:
        return " -r -F"
    return ""


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _any_values(values: Values) -> bool:
    return values.files or values.dirs or bool(values.words)


def _identifier(prog: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", prog)
