"""The ``fpe-theory`` console script: a thin click group.

Subcommands live beside the code they drive (``fpe_theory/_cli.py``,
``simulations/_cli.py``, ...) and are imported only when invoked, so a theory command
never pays for importing torch or numba. Bad input anywhere (a ``ValueError`` from the
library or a click usage error) becomes one line ``Error: ...`` on stderr and exit 2.
"""

from __future__ import annotations

import errno
import importlib
import sqlite3
import sys

import click

# command name -> "module:attribute"; imported on first use only.
COMMANDS = {
    "coverage": "fpe_theory._cli:coverage",
    "collisions": "fpe_theory._cli:collisions",
    "formulas": "fpe_theory._cli:formulas",
    "simulate": "simulations._cli:simulate",
    "train": "fpe_train.engine._cli:train",
    "sweep": "fpe_train.sweeps._cli:sweep",
    "report": "reports._cli:report",
    "claims": "reports._claims_cli:claims",
    "embed": "fpe_train.embed._cli:embed",
}


# top-level module -> the extra of pyproject.toml that installs it
EXTRAS = {
    "numba": "mc",
    "llvmlite": "mc",
    "statsmodels": "mc",
    "tqdm": "mc",
    "torch": "train",
    "sklearn": "train",
    "mnist1d": "train",
    "pandas": "train",
    "matplotlib": "report",
    "jinja2": "report",
    "dask": "dask",
    "distributed": "dask",
    "pyarrow": "parquet",
    "transformers": "embed",
    "safetensors": "embed",
    "PIL": "embed",
}


# extra -> the top-level modules it installs (pyproject.toml; report includes mc and train)
EXTRA_MODULES = {
    "mc": {"numba", "llvmlite", "statsmodels", "tqdm"},
    "train": {"torch", "sklearn", "mnist1d", "pandas", "tqdm"},
    "dask": {"dask", "distributed"},
    "parquet": {"pyarrow"},
}
EXTRA_MODULES["report"] = EXTRA_MODULES["mc"] | EXTRA_MODULES["train"] | {"matplotlib", "jinja2"}
EXTRA_MODULES["embed"] = EXTRA_MODULES["train"] | {"transformers", "safetensors", "PIL"}
# command -> the extra the README tells its users to install
COMMAND_EXTRAS = {
    "simulate": "mc",
    "train": "train",
    "sweep": "train",
    "report": "report",
    "claims": "report",
    "embed": "embed",
}


def optional_module(exc: ImportError) -> str | None:
    """The optional top-level module an import failure is about: the one named, else the outermost
    frame of the traceback inside an optional package (a module present but broken, e.g. a missing
    shared library, raises a plain ImportError from inside its own package)."""
    top = (exc.name or "").split(".")[0]
    if top in EXTRAS:
        return top
    tb = exc.__traceback__
    while tb is not None:
        name = str(tb.tb_frame.f_globals.get("__name__", "")).split(".")[0]
        if name in EXTRAS:
            return name
        tb = tb.tb_next
    return None


def missing_extra(exc: ImportError, command: str = "") -> str | None:
    """One line naming the extra that installs the module ``exc`` is about (None: not an optional module).

    The extra is the command's own (``report`` needs ``[report]``) when that extra brings the module,
    else the module's (``EXTRAS``). A module present but failing to import is named as broken.
    """
    top = optional_module(exc)
    if top is None:
        return None
    extra = COMMAND_EXTRAS.get(command)
    extra = extra if extra and top in EXTRA_MODULES[extra] else EXTRAS[top]
    if isinstance(exc, ModuleNotFoundError) and exc.name == top:
        return f"needs {top}, which is not installed: pip install 'fpe-theory[{extra}]'"
    why = one_line(f"{type(exc).__name__}: {exc}")[:200]
    return (
        f"needs {top}, which is installed but cannot be imported ({why}): "
        f"pip install --force-reinstall 'fpe-theory[{extra}]'"
    )


def _load(name: str) -> click.Command | None:
    module_name, attr = COMMANDS[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # a part not installed or not built yet, or an extra missing or broken
        if isinstance(exc, ModuleNotFoundError) and exc.name and module_name.startswith(exc.name):
            return None
        if missing_extra(exc, name):
            raise click.UsageError(f"fpe-theory {name} {missing_extra(exc, name)}") from None
        raise
    return getattr(module, attr, None)


class LazyGroup(click.Group):
    """A group whose subcommands are imported on demand, with one-line errors."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        return _load(cmd_name)

    def main(self, args=None, prog_name=None, **extra):  # noqa: D102 - see class docstring
        try:
            rv = super().main(args=args, prog_name=prog_name, standalone_mode=False, **extra)
        except click.exceptions.Abort as exc:
            if isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):  # Ctrl-C (click turns it into Abort)
                click.echo(
                    "Error: interrupted (Ctrl-C); every finished trial is stored: run the same command again to resume",
                    err=True,
                )
                sys.exit(130)
            click.echo("Error: aborted", err=True)
            sys.exit(1)
        except click.ClickException as exc:
            click.echo(f"Error: {one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code if exc.exit_code else 2)
        except UnicodeError as exc:  # a name the locale cannot spell (LANG=C and a non-ASCII path)
            obj = getattr(exc, "object", "")
            what = obj[getattr(exc, "start", 0) : getattr(exc, "end", 0)] if obj else "?"
            click.echo(
                f"Error: a path or value holds {what!r}, which the locale's encoding "
                f"({getattr(exc, 'encoding', '?')}) "
                "cannot spell; run with LANG=C.UTF-8 (or PYTHONUTF8=1)",
                err=True,
            )
            sys.exit(2)
        except ValueError as exc:
            click.echo(f"Error: {one_line(str(exc))}", err=True)
            sys.exit(2)
        except ImportError as exc:  # an optional dependency, imported inside a command: missing or broken
            command = next((a for a in (args if args is not None else sys.argv[1:]) if a in COMMANDS), "")
            if not missing_extra(exc, command):
                raise
            click.echo(f"Error: fpe-theory {command} {missing_extra(exc, command)}".replace("  ", " "), err=True)
            sys.exit(2)
        except Exception as exc:  # a full disk, a read-only folder (also beneath a library's own error): exit 1
            message = environment_error(exc)
            if message is None:
                raise
            click.echo(f"Error: {message}", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


_DISK_ERRNOS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "not permitted",
}


def environment_error(exc: BaseException | None) -> str | None:
    """One line for a full disk / read-only place (OSError or SQLite's "disk is full"), else None.

    The exception's chain is searched too: matplotlib, for one, answers a full disk with an
    AttributeError or zlib.error raised while handling the OSError.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        message = _environment_error(exc)
        if message is not None:
            return message
        exc = exc.__cause__ or exc.__context__
    return None


def _environment_error(exc: BaseException) -> str | None:
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc)
        if "disk is full" in text:
            return f"{text}: free space (or use another --store) and rerun; the store keeps every committed trial"
        if "readonly database" in text:
            return f"{text}: the store or its folder is read-only; use another --store"
        return None
    if isinstance(exc, OSError) and exc.errno in _DISK_ERRNOS:
        verb = "writing" if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else "at"
        where = f" {verb} {exc.filename!r}" if exc.filename else ""
        return f"{_DISK_ERRNOS[exc.errno]}{where} ({one_line(exc.strerror or exc)})"
    return None


def one_line(message: str) -> str:
    """Collapse a message onto one line."""
    return " ".join(str(message).split())


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fpe-theory")
def main() -> None:
    """Check the theory and experiments of Fixed Parameter Expansion, number by number."""


if __name__ == "__main__":
    main()
