"""``labrun serve``: the remote-control API over a queue of runs on one robot."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import attrs

from hardware.clock import speed_problem
from hardware.config import ConfigError, default_config, load_config
from labrun.cli.robot_lock import ROBOT_LOCK_NAME, robot_lock_file
from labrun.cli.signals import handling, raise_terminated
from labrun.cli.tips_left import TipsStateError, robot_key
from labrun.remote.app import MAX_BODY
from labrun.remote.auth import TokenFileError, read_token_file, token_problem
from labrun.remote.history_file import FolderInUse, claim
from labrun.remote.manager import RunManager
from labrun.remote.robots import RobotUnavailable, emulator_setup
from labrun.remote.runner import RobotSpec
from labrun.remote.server import DEFAULT_HOST, DEFAULT_PORT, serve
from labrun.remote.supervisor import SupervisedRobot

BAD_INPUT_EXIT = 2
INTERRUPTED_EXIT = 130
TOKEN_ENV = "LABRUN_TOKEN"
EMERGENCY_KEY_ENV = "LABRUN_EMERGENCY_LOCK_KEY"


def add_parser(commands: Any) -> None:
    """Register the ``serve`` sub-command."""
    parser = commands.add_parser(
        "serve", help="serve the remote-control API (a queue of runs)",
        description="Serve the HTTP control API: queue protocol files, run them on one "
                    "robot, pause, resume, stop; status is pushed as server-sent events. "
                    "OpenAPI description at /openapi.json.")
    robot = parser.add_mutually_exclusive_group()
    robot.add_argument("--simulate", action="store_true",
                       help="the simulated robot on real time (the default)")
    robot.add_argument("--emulate", action="store_true",
                       help="the bundled G-code emulator over a real socket")
    robot.add_argument("--robot", metavar="ROBOT.toml", help="the robot this file configures")
    parser.add_argument("--config", metavar="ROBOT.toml",
                        help="with --simulate or --emulate: the robot to play")
    parser.add_argument("--dialect", choices=("grbl", "marlin", "smoothie"),
                        help="with --emulate: the emulated firmware (default: the robot's, "
                             "or grbl)")
    parser.add_argument("--speed", default=1.0, metavar="X",
                        help="with --simulate or --emulate: the robot's clock runs X times "
                             "faster (moves and delays) (default 1)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to bind (default {DEFAULT_HOST}; beyond loopback, "
                             "reads need the token too)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="another name clients reach the server by (the Host header), "
                             "such as the machine's DNS name; repeatable")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port (default {DEFAULT_PORT})")
    token = parser.add_mutually_exclusive_group()
    token.add_argument("--token", default=os.environ.get(TOKEN_ENV),
                       help=f"the token every change must carry (or ${TOKEN_ENV}); by "
                            "default a new one, printed at start as a URL")
    token.add_argument("--token-file", metavar="FILE",
                       help="read the token from FILE, which only you may read (made, "
                            "mode 0600, with a new token if it does not exist)")
    parser.add_argument("--emergency-lock-key", default=os.environ.get(EMERGENCY_KEY_ENV),
                        metavar="KEY", help="a key that unlocks any lock "
                                            f"(or ${EMERGENCY_KEY_ENV})")
    parser.add_argument("--record-dir", metavar="DIR",
                        help="write each run's record to DIR/<item_uid>.jsonl (DIR is made "
                             "if missing)")
    parser.add_argument("--max-body", type=int, default=MAX_BODY, metavar="BYTES",
                        help=f"largest request body accepted (default {MAX_BODY})")
    parser.set_defaults(handler=run_serve)


def robot_spec(args: argparse.Namespace) -> RobotSpec:
    """How the run worker opens the robot the arguments name; ``ConfigError`` if they
    name none."""
    problem = speed_problem(args.speed)
    if problem is not None:
        raise ConfigError(problem)
    args.speed = float(args.speed)  # given as text: a non-number is said in one line
    if args.robot:
        if args.config or args.dialect or args.speed != 1.0:
            raise ConfigError("--config, --dialect and --speed apply to --simulate and "
                              "--emulate, not --robot")
        return RobotSpec(load_config(args.robot))
    config = load_config(args.config) if args.config else None
    if args.emulate:
        config, dialect = emulator_setup(config, args.dialect)
        return RobotSpec(config, emulate=dialect, speed=args.speed)
    if args.dialect:
        raise ConfigError("--dialect applies to --emulate only")
    return RobotSpec(config or default_config(), speed=args.speed)


def log_run(line: str) -> None:
    """A line of the server's terminal about a run, with the time of day."""
    print(f"labrun: {time.strftime('%H:%M:%S')} {line}", file=sys.stderr, flush=True)


def run_serve(args: argparse.Namespace) -> int:
    """Serve until interrupted; return the exit status."""
    if not 0 <= args.port <= 65535:
        print(f"error: --port must be a port number, 0 to 65535, not {args.port}",
              file=sys.stderr)
        return BAD_INPUT_EXIT
    if args.max_body < 1024:
        print(f"error: --max-body must be at least 1024 bytes (a request's own JSON), not "
              f"{args.max_body}", file=sys.stderr)
        return BAD_INPUT_EXIT
    if args.record_dir:
        try:  # made if missing, as a folder for records is expected to be
            os.makedirs(args.record_dir, exist_ok=True)
        except FileExistsError:
            print(f"error: --record-dir {args.record_dir}: not a directory", file=sys.stderr)
            return BAD_INPUT_EXIT
        except OSError as exc:
            print(f"error: --record-dir {args.record_dir}: {exc.strerror or exc}",
                  file=sys.stderr)
            return BAD_INPUT_EXIT
        try:
            held = claim(Path(args.record_dir))  # noqa: F841 - held until the server ends
        except (FolderInUse, OSError) as exc:
            print(f"error: --record-dir {args.record_dir}: {exc}", file=sys.stderr)
            return BAD_INPUT_EXIT
    try:
        token = read_token_file(args.token_file) if args.token_file else args.token or None
    except (OSError, TokenFileError) as exc:
        print(f"error: --token-file: {exc}", file=sys.stderr)
        return BAD_INPUT_EXIT
    problem = token_problem(token) if token is not None else None
    if problem is not None:  # no client could send it
        print(f"error: --token (or ${TOKEN_ENV}): {problem}", file=sys.stderr)
        return BAD_INPUT_EXIT
    try:  # the run worker process opens (connects) the robot and runs the protocols
        spec = robot_spec(args)
        # One process at a time drives a robot: a real one's lock is in the state folder
        # (any labrun on this computer); the simulated robot's, in the record folder (one
        # worker at a time plays this folder's runs)
        lock = robot_lock_file(spec.config) if spec.emulate is None else None
        if lock is None and args.record_dir:
            lock = Path(args.record_dir) / ROBOT_LOCK_NAME
        if lock is not None:
            spec = attrs.evolve(spec, lock=str(lock), server_pid=os.getpid())
        robot = SupervisedRobot.start(spec)
    except (ConfigError, RobotUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT_EXIT
    except KeyboardInterrupt:  # while the worker waited for the robot or opened it
        print("\nlabrun: interrupted before the server started", file=sys.stderr)
        return INTERRUPTED_EXIT
    try:
        # a real robot's tips left are shared with labrun run, by its robot file
        shared = args.robot and spec.emulate is None and spec.config.controller.kind != "simulated"
        manager = RunManager(robot, emergency_lock_key=args.emergency_lock_key,
                             record_dir=args.record_dir,
                             robot_tips=robot_key(args.robot) if shared else None)
        manager.log = log_run  # each run's start, pauses and end, one line each
        print(f"labrun: robot {robot.config.name!r} ({robot.kind}); OpenAPI at "
              "/openapi.json", file=sys.stderr)
        for warning in robot.warnings:  # the driver's at connection: no emergency parser
            print(warning, file=sys.stderr, flush=True)
        # uvicorn shuts down on SIGTERM as on Ctrl-C (a running run aborted with its
        # cleanup), then sends itself the signal again under the handler that was there
        # before: ``Terminated``, so the robot is let go here and labrun exits 0, not 143
        with handling({signal.SIGTERM: raise_terminated}):
            serve(manager, host=args.host, port=args.port, token=token,
                  allowed_hosts=args.allow_host, max_body=args.max_body)
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C or SIGTERM it shut down on
        pass  # (or it came before uvicorn started): a normal stop
    except TipsStateError as exc:  # nothing is known of the tips on the robot
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT_EXIT
    except OSError as exc:
        print(f"error: cannot serve on {args.host}:{args.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return BAD_INPUT_EXIT
    finally:
        robot.close()
    return 0
