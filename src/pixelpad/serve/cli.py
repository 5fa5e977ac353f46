"""``pixelpad serve`` and ``pixelpad play``: thin argument parsing over the library."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from pixelpad.serve.protocol import DEFAULT_HOST, DEFAULT_PORT

if TYPE_CHECKING:
    from pixelpad.serve.predictor import PolicyPredictor

TOKEN_ENV = "PIXELPAD_TOKEN"


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="serve a policy checkpoint over ZeroMQ (msgpack, never pickle)",
        description="Load a policy once and answer info/reset/predict requests, batching concurrent ones. "
        "Binds to loopback unless --host says otherwise; give a token before offering it to a network.",
    )
    serve.add_argument("checkpoint", help="a save_pretrained directory or the released ng.pt")
    serve.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default: %(default)s)")
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port (0: any free one; default: %(default)s)"
    )
    serve.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV),
        help=f"refuse requests without this token (default: ${TOKEN_ENV})",
    )
    _add_model_options(serve)
    serve.add_argument(
        "--max-batch", type=int, default=8, help="most frames per forward pass (default: %(default)s)"
    )
    serve.add_argument(
        "--batch-window-ms",
        type=float,
        default=3.0,
        help="how long a request waits for others (default: %(default)s)",
    )
    serve.set_defaults(func=_serve)

    play = subparsers.add_parser(
        "play",
        help="let a policy play a game, recording what it saw and did",
        description="Run a policy (a checkpoint, or a server at tcp://HOST:PORT) on a game. The game's clock "
        "stands still while the policy thinks. Each chunk's first --execute actions are played, then it "
        "re-plans. Menu buttons are released unless --allow-buttons lets them through.",
    )
    game = play.add_mutually_exclusive_group(required=True)
    game.add_argument("--game", help="a game profile name (see `pixelpad sim profiles`)")
    game.add_argument("--cmd", help="a command line that starts the game")
    play.add_argument("--policy", required=True, help="a checkpoint (directory or ng.pt) or tcp://HOST:PORT")
    play.add_argument("--steps", type=int, default=300, help="env steps to play (default: %(default)s)")
    play.add_argument(
        "--execute", type=int, default=None, help="actions played per chunk (default: the whole chunk)"
    )
    play.add_argument("--record", default=None, metavar="DIR", help="write play.mp4 and actions.parquet here")
    play.add_argument(
        "--allow-buttons", default="", help="comma-separated menu buttons to let through (back,start,guide)"
    )
    play.add_argument("--fps", type=float, default=30.0, help="game frames per second of virtual time")
    play.add_argument("--exact", action="store_true", help="the simulator's exact-time mode")
    play.add_argument(
        "--token", default=os.environ.get(TOKEN_ENV), help=f"the server's token (default: ${TOKEN_ENV})"
    )
    play.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a server's reply")
    _add_model_options(play)
    play.set_defaults(func=_play)


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device", default="cpu", help="torch device for a checkpoint (default: %(default)s)"
    )
    parser.add_argument(
        "--dtype", default="float32", choices=("float32", "bfloat16", "float16"), help="weights' dtype"
    )
    parser.add_argument(
        "--num-steps", type=int, default=None, help="flow-matching steps (default: the config's)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds the sampling noise and the game")


def _predictor(path: str, args: argparse.Namespace) -> PolicyPredictor:
    from pixelpad.serve.predictor import PolicyPredictor, load_policy

    policy = load_policy(path, device=args.device, dtype=args.dtype)
    return PolicyPredictor(policy, num_steps=args.num_steps, seed=args.seed)


def _serve(args: argparse.Namespace) -> int:
    from pixelpad.serve.server import PolicyServer, ServerConfig

    config = ServerConfig(
        host=args.host,
        port=args.port,
        token=args.token,
        max_batch=args.max_batch,
        batch_window_ms=args.batch_window_ms,
    )
    predictor = _predictor(args.checkpoint, args)
    predictor.warm_up()  # the first request should not pay for lazy initialisation (kernels, CUDA)
    server = PolicyServer(predictor, config).start()
    print(f"serving on {server.address} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()
    return 0


def _play(args: argparse.Namespace) -> int:
    from pixelpad.serve.client import Client
    from pixelpad.serve.player import play
    from pixelpad.sim import GameEnv

    remote = args.policy.startswith("tcp://")
    policy = (
        Client(args.policy, token=args.token, timeout=args.timeout)
        if remote
        else _predictor(args.policy, args)
    )
    allow = tuple(name.strip() for name in args.allow_buttons.split(",") if name.strip())
    env = GameEnv(args.game, cmd=args.cmd, fps=args.fps, exact=args.exact, seed=args.seed)
    try:
        # a policy reading an earlier frame gets it previous_frame_gap steps back (one chunk action a step)
        info = policy.info()["predictor"] if remote else policy.info()
        gap = int(info.get("previous_frame_gap", 0))
        result = play(
            env, policy, args.steps, args.execute, args.record, allow_buttons=allow, seed=args.seed,
            previous_steps=gap,
        )  # fmt: skip
    finally:
        env.close()
        if remote:
            policy.close()
    print(
        f"played {result.steps} steps ({result.episodes} episode(s), {result.chunks} chunks, "
        f"reward {result.total_reward:g}, {result.mean_think_ms:.1f} ms per prediction)"
    )
    if result.video is not None:
        print(f"recorded {result.video} and {result.actions}")
    return 0
