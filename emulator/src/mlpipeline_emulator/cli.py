"""``mlpipeline-emulator``: a local AWS for any CDK app, from any folder.

::

    mlpipeline-emulator start               # start the emulator (if it is not running)
    mlpipeline-emulator deploy [STACK ...]  # synth, bootstrap, deploy the app in this folder
    eval "$(mlpipeline-emulator env)"       # point AWS SDKs and CLIs at it
    mlpipeline-emulator preflight SCRIPT_DIR --entry-point mnist.py --data DIR  # check a script
    mlpipeline-emulator status
    mlpipeline-emulator destroy [STACK ...] # cdk destroy --force of the app in this folder
    mlpipeline-emulator stop

The emulator's pid, port and log live in one place per user (:func:`.session.state_home`), so
every command finds it from any folder.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .cdk import ASSEMBLY_DIR, assembly_stacks, bootstrap, deploy, destroy, stack_outputs, synth
from .session import (
    Emulator,
    EmulatorError,
    check_account,
    ensure_emulator,
    running_emulator,
    signals_raise,
)

PROG = "mlpipeline-emulator"


def _print_outputs(stack: str, outputs: Mapping[str, str]) -> None:
    print(f"\n{stack} outputs:")
    width = max(map(len, outputs), default=0)
    for key in sorted(outputs):
        print(f"  {key:<{width}}  {outputs[key]}")


def _where(emulator: Emulator) -> str:
    return f"{emulator.endpoint_url} (pid {emulator.pid}, log {emulator.log_path})"


def _timed(timings: dict[str, float], name: str, step: Callable[[], object]) -> None:
    begin = time.monotonic()
    step()
    timings[name] = time.monotonic() - begin


def deploy_app(app_dir: Path, stacks: Sequence[str], account: str | None = None) -> int:
    """``deploy``: the emulator (started if needed), then synth, bootstrap and deploy of the app
    in ``app_dir`` into ``account`` (default: the emulator's default account); prints every
    deployed stack's outputs."""
    if account is not None:
        check_account(account)
    with signals_raise():
        emulator, started = ensure_emulator()
        print(f"Emulator {'started' if started else 'already running'} on {_where(emulator)}")
        timings: dict[str, float] = {}
        try:
            _timed(timings, "synth", lambda: synth(emulator, app_dir=app_dir, account=account))
            _timed(
                timings, "bootstrap", lambda: bootstrap(emulator, app_dir=app_dir, account=account)
            )
            _timed(
                timings,
                "deploy",
                lambda: deploy(emulator, stacks, app_dir=app_dir, account=account),
            )
        except BaseException:
            if started:  # leave no emulator behind that nothing was deployed to
                emulator.stop()
            raise
    for stack in assembly_stacks(app_dir / ASSEMBLY_DIR, stacks):
        _print_outputs(stack, stack_outputs(emulator, stack, account))
    print("\nTimes: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items()))
    print(f"The emulator keeps running; `{PROG} env` points tools at it, `{PROG} stop` stops it.")
    return 0


def destroy_app(app_dir: Path, stacks: Sequence[str], account: str | None = None) -> int:
    """``destroy``: ``cdk destroy --force`` of the app in ``app_dir`` (synthesized first if it
    has no assembly) in ``account``; the emulator keeps running."""
    if account is not None:
        check_account(account)
    emulator = running_emulator()
    if emulator is None:
        print("No emulator is running: nothing is deployed.")
        return 0
    with signals_raise():
        if not (app_dir / ASSEMBLY_DIR / "manifest.json").exists():
            synth(emulator, app_dir=app_dir, account=account)
        begin = time.monotonic()
        destroy(emulator, stacks, app_dir=app_dir, account=account)
    names = ", ".join(stacks) or "every stack of the app"
    print(f"Destroyed {names} in {time.monotonic() - begin:.1f} s")
    return 0


def _command_deploy(args: argparse.Namespace) -> int:
    return deploy_app(Path(args.app_dir).resolve(), args.stacks, args.account)


def _command_destroy(args: argparse.Namespace) -> int:
    return destroy_app(Path(args.app_dir).resolve(), args.stacks, args.account)


def _command_start(args: argparse.Namespace) -> int:
    emulator, started = ensure_emulator()
    print(f"Emulator {'started' if started else 'already running'} on {_where(emulator)}")
    return 0


def _command_stop(args: argparse.Namespace) -> int:
    emulator = running_emulator()
    if emulator is None:
        print("No emulator is running.")
    else:
        emulator.stop()
        print(f"Emulator on {emulator.endpoint_url} stopped.")
    return 0


def _command_status(args: argparse.Namespace) -> int:
    emulator = running_emulator()
    if emulator is None:
        print("No emulator is running.")
        return 1
    print(f"Emulator running on {_where(emulator)}")
    return 0


def _command_env(args: argparse.Namespace) -> int:
    emulator = running_emulator()
    if emulator is None:
        print(f"No emulator is running (start it with `{PROG} start`).", file=sys.stderr)
        return 1
    account = check_account(args.account) if args.account is not None else None
    for name, value in emulator.environment(account).items():
        print(f"export {name}={value}")
    return 0


def _command_preflight(args: argparse.Namespace) -> int:
    from ._preflight_cli import run_command  # torch and moto load only for a preflight

    return run_command(args)


_COMMANDS: tuple[tuple[str, Callable[[argparse.Namespace], int], str], ...] = (
    ("start", _command_start, "start the emulator if it is not running"),
    ("deploy", _command_deploy, "start the emulator if needed; synth, bootstrap and deploy"),
    ("env", _command_env, "print shell exports that point AWS tools at the emulator"),
    ("status", _command_status, "whether the emulator runs, and where"),
    ("destroy", _command_destroy, "cdk destroy --force of the app in this folder"),
    ("stop", _command_stop, "stop the emulator"),
    (
        "preflight",
        _command_preflight,
        "run a training script on local data under the SageMaker script contract, one host "
        "then two, serve one request through its handlers, and report each broken rule",
    ),
)


def parser() -> argparse.ArgumentParser:
    """The command line of ``mlpipeline-emulator``."""
    main_parser = argparse.ArgumentParser(
        prog=PROG,
        description="A local AWS (moto with a local SageMaker) for CDK apps, deployed into by "
        "the real CDK CLI.",
    )
    commands = main_parser.add_subparsers(dest="command", required=True)
    for name, run, text in _COMMANDS:
        command = commands.add_parser(name, help=text, description=text)
        if name in ("deploy", "destroy"):
            command.add_argument(
                "stacks", nargs="*", metavar="STACK", help="default: every stack of the app"
            )
            command.add_argument(
                "--app-dir", default=".", help="the CDK app's folder, with cdk.json (default: .)"
            )
        if name in ("deploy", "destroy", "env"):
            command.add_argument(
                "--account",
                default=None,
                help="the 12-digit account to act in (default: 123456789012); every account "
                "is emulated at once",
            )
        if name == "preflight":
            from ._preflight_cli import add_arguments

            add_arguments(command)
        command.set_defaults(run=run)
    return main_parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except EmulatorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
