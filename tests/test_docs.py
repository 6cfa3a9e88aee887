"""The pages (README.md, docs/*.md) and the commands' ``--help`` say the same options.

The README and ``--help`` drifted apart three times, so the pages are read the way a user
reads them and compared with click's own command objects:

- an option written after ``mmimdb COMMAND`` (on a shell line of a code block, or in a code
  span) belongs to that command;
- an option standing on its own (``--workers N`` in prose) belongs to the command of the
  nearest heading above it that names `` `mmimdb COMMAND ...` ``; under a heading that names
  no command it belongs to any command that has it;
- shell lines and code spans that start with another program (``pip``, ``python``, ``ray``,
  a peer's ``train.py``) are that program's business and are not read.

Every option a page names must be one that command's ``--help`` lists, and every option of
every command must be named on some page (for the command, or unattributed).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from mmimdb_cli.main import cli

HERE = Path(__file__).resolve().parents[1]
#: An option: two dashes, a letter, then letters, digits and dashes (``--data_path``, a
#: peer's option with an underscore, is not ours and does not match).
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*(?![\w])")
HEADING = re.compile(r"^(#+)\s+(.*)$")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
#: Options every command has; documented once, for all of them.
COMMON = {"--root", "--help"}


def pages() -> list[Path]:
    return [HERE / "README.md", *sorted((HERE / "docs").glob("*.md"))]


def commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> dict[str, click.Command]:
    """Every command under ``group`` by its name as typed (``build-features``; ``a b`` for a
    subcommand of a group)."""
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        path = (*prefix, name)
        if isinstance(command, click.Group):
            found.update(commands(command, path))
        else:
            found[" ".join(path)] = command
    return found


def options_of(command: click.Command) -> dict[str, str]:
    """Each option string of ``command`` -> the option it belongs to (its first name), so that
    ``--no-download`` documents ``--download/--no-download``."""
    names: dict[str, str] = {}
    for parameter in command.params:
        if isinstance(parameter, click.Option):
            every = [name for name in (*parameter.opts, *parameter.secondary_opts) if name.startswith("--")]
            for name in every:
                names[name] = every[0]
    return names


@dataclass(frozen=True)
class Mention:
    page: str
    line: int
    option: str
    command: str | None  # None: not tied to a command


def _command_at(words: list[str], known: set[str]) -> str | None | bool:
    """The command that the words of a shell line or code span run: a name of ``known``,
    ``None`` when it runs none in particular (it starts with an option), ``False`` when it
    runs another program."""
    if not words:
        return False
    if words[0] == "mmimdb":
        words = words[1:]
    elif words[0].startswith("--"):
        return None
    for length in (2, 1):
        name = " ".join(words[:length])
        if name in known:
            return name
    return False


def mentions(text: str, page: str, known: set[str]) -> list[Mention]:
    """Every option ``text`` names, with the command it is written for."""
    found: list[Mention] = []
    section: dict[int, str | None] = {}  # heading level -> the command it names
    in_code, continued, pending = False, None, ""
    for number, line in enumerate(text.splitlines(), 1):
        if not in_code and not FENCE.match(line) and not HEADING.match(line):
            # A code span may wrap onto the next line: read the lines it joins as one.
            line = f"{pending} {line}" if pending else line
            if "`" in CODE_SPAN.sub("", line):
                pending = line
                continue
            pending = ""
        if FENCE.match(line):
            in_code, continued = not in_code, None
            continue
        if in_code:
            words = line.split()
            command = continued if continued is not None else _command_at(words, known)
            continued = command if line.rstrip().endswith("\\") else None
            if command:
                found += [Mention(page, number, option, command) for option in OPTION.findall(line)]
            continue
        heading = HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            section = {depth: name for depth, name in section.items() if depth < level}
            spans = [_command_at(span.split(), known) for _, span in CODE_SPAN.findall(heading.group(2))]
            section[level] = next((name for name in spans if name), None)
        current = next((section[depth] for depth in sorted(section, reverse=True) if section[depth]), None)
        rest = line
        for _, span in CODE_SPAN.findall(line):
            command = _command_at(span.split(), known)
            if command is not False:
                found += [Mention(page, number, option, command or current) for option in OPTION.findall(span)]
            rest = rest.replace(span, " ", 1)
        if not heading:
            found += [Mention(page, number, option, current) for option in OPTION.findall(rest)]
    return found


def all_mentions() -> list[Mention]:
    known = set(commands())
    return [mention for path in pages() for mention in mentions(path.read_text("utf-8"), path.name, known)]


def unknown_options(found: list[Mention], table: dict[str, click.Command]) -> list[str]:
    """``page:line`` messages for options that their command (or, unattributed, every
    command) does not have."""
    every = set().union(*(options_of(command) for command in table.values())) | COMMON
    wrong = []
    for mention in found:
        if mention.command is None:
            if mention.option not in every:
                wrong.append(f"{mention.page}:{mention.line}: {mention.option} is no option of any command")
        elif mention.option not in options_of(table[mention.command]) and mention.option not in COMMON:
            wrong.append(f"{mention.page}:{mention.line}: `mmimdb {mention.command} --help` has no {mention.option}")
    return wrong


def undocumented_options(found: list[Mention], table: dict[str, click.Command]) -> list[str]:
    """``mmimdb COMMAND --option`` for every option that no page names for its command."""
    unattributed = {mention.option for mention in found if mention.command is None}
    documented = {(mention.command, mention.option) for mention in found}
    missing = []
    for name, command in table.items():
        groups: dict[str, set[str]] = {}
        for option, first in options_of(command).items():
            groups.setdefault(first, set()).add(option)
        for first, names in groups.items():
            if names & COMMON:
                if not names & {mention.option for mention in found}:
                    missing.append(f"mmimdb {name} {first}")
            elif not any((name, option) in documented or option in unattributed for option in names):
                missing.append(f"mmimdb {name} {first}")
    return missing


def test_every_option_a_page_names_is_in_the_commands_help():
    wrong = unknown_options(all_mentions(), commands())
    assert not wrong, "pages name options that --help does not list:\n" + "\n".join(wrong)


def test_every_option_of_every_command_is_on_a_page():
    missing = undocumented_options(all_mentions(), commands())
    assert not missing, "options that no page (README.md, docs/*.md) names:\n" + "\n".join(missing)


def test_a_renamed_option_fails_both_checks(monkeypatch):
    """Rename ``build-features --workers`` in the command object, as a code change would:
    the pages now name an option the command lacks, and the new name is on no page."""
    command = commands()["build-features"]
    workers = next(p for p in command.params if isinstance(p, click.Option) and "--workers" in p.opts)
    monkeypatch.setattr(workers, "opts", ["--poster-workers"])
    found = all_mentions()
    assert any("`mmimdb build-features --help` has no --workers" in line for line in unknown_options(found, commands()))
    assert "mmimdb build-features --poster-workers" in undocumented_options(found, commands())


@pytest.mark.parametrize("text, expected", [
    ("```bash\nmmimdb build --split file   # or --seed 5\n```", [("build", "--split"), ("build", "--seed")]),
    ("```bash\nmmimdb build-features --word2vec F \\\n    --vgg16-weights W\n```",
     [("build-features", "--word2vec"), ("build-features", "--vgg16-weights")]),
    ("```bash\npip install -q --upgrade pip\nray start --head\n```", []),
    ("## `mmimdb export --format jsonl`\n\nOptions: `--out DIR`, and --text all.",
     [("export", "--format"), ("export", "--out"), ("export", "--text")]),
    ("## `mmimdb card`\n\nsee `mmimdb benchmark --seeds 5` and `python x.py --device cuda`",
     [("benchmark", "--seeds")]),
    ("## Layout\n\n`--dataset synthetic` writes", [(None, "--dataset")]),
    ("MMBT runs with `--data_path ROOT`", []),
    ("## `mmimdb fetch`\n\nready for `mmimdb build --split file\n--split-file F`, then --limit",
     [("build", "--split"), ("build", "--split-file"), ("fetch", "--limit")]),
])
def test_options_are_attributed_as_a_reader_would(text, expected):
    found = mentions(text, "page.md", set(commands()))
    assert [(mention.command, mention.option) for mention in found] == expected


def test_build_features_help_states_the_codes_defaults():
    """The help of --batch-size and --workers says what the code does (they drifted: the help
    said 1, 4, 16, 64 and cores - 1)."""
    from mmimdb.features.posters import CPU_BATCH_CANDIDATES, GPU_BATCH_SIZE, MAX_DEFAULT_WORKERS

    options = {p.opts[0]: p for p in commands()["build-features"].params if isinstance(p, click.Option)}
    batch = options["--batch-size"].help
    assert ", ".join(map(str, CPU_BATCH_CANDIDATES)) in batch and f"{GPU_BATCH_SIZE} on a GPU" in batch, batch
    assert f"at most {MAX_DEFAULT_WORKERS}" in options["--workers"].help, options["--workers"].help


def test_every_page_is_linked_from_the_docs_index():
    """docs/index.md lists every page (the README links the index and the pages)."""
    assert "(docs/index.md)" in (HERE / "README.md").read_text("utf-8")
    index = (HERE / "docs" / "index.md").read_text("utf-8")
    for page in sorted((HERE / "docs").glob("*.md")):
        if page.name != "index.md":
            assert f"({page.name})" in index, f"docs/index.md does not link {page.name}: add it to the table"


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_relative_link_reaches_a_file_and_heading():
    broken = []
    for path in [*pages(), HERE / "ARCHITECTURE.md"]:
        text = path.read_text("utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            linked = (path.parent / file).resolve() if file else path
            if not linked.exists():
                broken.append(f"{path.name}: {target} (no such file)")
            elif anchor and linked.suffix == ".md":
                anchors = {_anchor(m.group(2)) for m in map(HEADING.match, linked.read_text("utf-8").splitlines()) if m}
                if anchor not in anchors:
                    broken.append(f"{path.name}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_readme_stays_short_and_runs_the_ci_test_command():
    readme = (HERE / "README.md").read_text("utf-8")
    assert len(readme.splitlines()) <= 250
    assert "source .venv/bin/activate" in readme
    command = re.search(r"`(python -m pytest[^`]*)`", readme).group(1)
    assert command in (HERE / ".ci" / "run").read_text("utf-8").splitlines()


def test_the_documented_load_signature_is_the_real_one():
    """README.md and docs/python-api.md give ``mmimdb.load``'s whole signature, defaults
    included (the README's line once omitted ``verify``, ``missing`` and ``transform``)."""
    import inspect

    import mmimdb

    real = ", ".join(f"{name}={parameter.default!r}".replace("'", '"')
                     for name, parameter in inspect.signature(mmimdb.load).parameters.items())
    for page in (HERE / "README.md", HERE / "docs" / "python-api.md"):
        text = " ".join(page.read_text("utf-8").split())
        documented = re.search(r"`mmimdb\.load\(([^`]*)\)`", text)
        assert documented, f"{page.name} gives no `mmimdb.load(...)` signature"
        assert documented.group(1) == real, f"{page.name}: mmimdb.load({documented.group(1)}), the code: mmimdb.load({real})"


def _architecture_paths(only_modules: bool = False) -> list[tuple[str, Path]]:
    """Every file or folder the tables of ARCHITECTURE.md name, as (how it is written, the
    path). A bare name is in the folder of the row's first path: a row of
    ``fetch/crawl/engine.py``, ``health.py`` names ``mmimdb/fetch/crawl/health.py`` too.
    ``only_modules``: the modules table alone (not the package rows, which cover everything)."""
    named = []
    section = ""
    for line in (HERE / "ARCHITECTURE.md").read_text("utf-8").splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        if not line.startswith("| ") or (only_modules and section != "The modules"):
            continue
        folder = HERE / "mmimdb"
        for token in re.findall(r"`([\w./-]+(?:\.py|/))`", line):
            top = token.split("/")[0]
            if "/" in token.rstrip("/") or token.endswith("/"):
                base = HERE if top in ("mmimdb", "cli", "schemas", "tests", "docs", "benchmarks", "scripts") else HERE / "mmimdb"
                path = base / token
                if folder == HERE / "mmimdb":
                    folder = path if token.endswith("/") else path.parent
            else:
                path = folder / token
            named.append((token, path))
    return named


def test_every_module_architecture_names_exists():
    missing = [token for token, path in _architecture_paths() if not path.exists()]
    assert not missing, "ARCHITECTURE.md names files that do not exist: " + ", ".join(missing)


def test_every_module_of_the_package_has_a_row_in_architecture():
    named = {path.resolve() for _, path in _architecture_paths(only_modules=True)}
    unnamed = []
    for module in sorted((HERE / "mmimdb").rglob("*.py")):
        if module.name == "__init__.py" or "__pycache__" in module.parts:
            continue
        if not any(parent.resolve() in named for parent in (module, *module.parents)):
            unnamed.append(str(module.relative_to(HERE)))
    assert not unnamed, "modules with no row in ARCHITECTURE.md (add one-line rows): " + ", ".join(unnamed)


def test_architecture_rows_are_one_short_line():
    """A row says what a module does in a line, not a paragraph (the rows once ran to 600
    characters)."""
    long_rows = [line[:60] + "..." for line in (HERE / "ARCHITECTURE.md").read_text("utf-8").splitlines()
                 if line.startswith("| ") and len(line) > 180]
    assert not long_rows, "rows of ARCHITECTURE.md over 180 characters: " + "; ".join(long_rows)
