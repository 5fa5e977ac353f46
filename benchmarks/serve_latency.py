"""Serving latency and throughput: what the network protocol costs and what batching gains.

For each policy preset (random init; the speed does not depend on the weights), with a 640x480
game frame per request:

* direct: ``policy.predict`` on one frame in this process (the baseline);
* round trip: the same through ``Client.predict`` to a loopback ``PolicyServer``, split into the
  server's compute time and the rest (protocol: msgpack, ZeroMQ, queueing);
* throughput: requests/s with 1 client, and with 4 concurrent clients with batching on and off.

A "null" predictor (answers zeros at once) gives the bare protocol round trip for the same frame.
Every figure is measured in the same run, and the ratios are what to read on a shared machine.

Usage: ``python benchmarks/serve_latency.py [--presets tiny base] [--requests 20 2] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from pixelpad.actions import ACTION_DIM
from pixelpad.policy import Policy, get_preset
from pixelpad.serve import Client, PolicyPredictor, PolicyServer, ServerConfig

FRAME = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)


class NullPredictor:
    """Answers zeros at once: the round trip of a request with nothing to compute."""

    def predict(self, frames: np.ndarray) -> np.ndarray:
        return np.zeros((len(frames), 16, ACTION_DIM), np.float32)

    def info(self) -> dict[str, str]:
        return {"kind": "null"}


def latencies(predictor: PolicyPredictor | NullPredictor, address: str, n: int) -> dict[str, list[float]]:
    """``n`` rounds of one direct predict then one round trip, interleaved so both see the same load.

    Returns ms lists: ``direct``, ``round_trip`` and the server-side ``compute`` of each round trip.
    """
    out: dict[str, list[float]] = {"direct": [], "round_trip": [], "compute": []}
    with Client(address, timeout=600) as client:
        client.predict(FRAME)  # connect and warm up
        for _ in range(n):
            start = time.perf_counter()
            predictor.predict(FRAME[None])
            out["direct"].append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            client.predict(FRAME)
            out["round_trip"].append((time.perf_counter() - start) * 1000)
            out["compute"].append(client.last_timing["compute_ms"])
    return out


def throughput(address: str, clients: int, per_client: int) -> tuple[float, float]:
    """Requests/s of ``clients`` threads sending ``per_client`` requests each; and the mean batch size."""
    batch_sizes: list[int] = []
    barrier = threading.Barrier(clients + 1)

    def run() -> None:
        with Client(address, timeout=600) as client:
            client.info()
            barrier.wait()
            for _ in range(per_client):
                client.predict(FRAME)
                batch_sizes.append(int(client.last_timing["batch_size"]))

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return clients * per_client / (time.perf_counter() - start), statistics.mean(batch_sizes)


def bench_preset(name: str, requests: int, rounds: int) -> None:
    policy = Policy(get_preset(name)).eval()
    predictor = PolicyPredictor(policy)
    for _ in range(3):  # warm-up: allocator, kernels' first calls
        predictor.predict(FRAME[None])
    print(f"\n== {name}: {policy.num_parameters() / 1e6:.1f}M parameters, {policy.config.image_size}px input")
    rps: dict[str, list[float]] = {"1": [], "4": [], "4u": []}
    batches = []
    with (
        PolicyServer(predictor, ServerConfig(port=0)) as batched,
        PolicyServer(predictor, ServerConfig(port=0, max_batch=1)) as unbatched,
    ):
        measured = latencies(predictor, batched.address, requests)
        # Rounds of the three set-ups in turn, so a change of load on a shared machine hits all three.
        for _ in range(rounds):
            rps["1"].append(throughput(batched.address, 1, requests)[0])
            rate, batch = throughput(batched.address, 4, requests)
            rps["4"].append(rate)
            batches.append(batch)
            rps["4u"].append(throughput(unbatched.address, 4, requests)[0])
    direct_ms, total_ms, compute_ms = (
        statistics.median(measured[k]) for k in ("direct", "round_trip", "compute")
    )
    overhead = total_ms - compute_ms
    gain_1 = statistics.median(b / a for a, b in zip(rps["1"], rps["4"], strict=True))
    gain_u = statistics.median(b / a for a, b in zip(rps["4u"], rps["4"], strict=True))
    print(f"direct predict          {direct_ms:9.1f} ms (baseline)")
    print(f"round trip via server   {total_ms:9.1f} ms  ratio to direct {total_ms / direct_ms:.3f}")
    print(f"  server compute        {compute_ms:9.1f} ms")
    print(f"  protocol + queueing   {overhead:9.1f} ms  ({overhead / total_ms:.1%} of it)")
    print(f"1 client                {statistics.median(rps['1']):9.2f} req/s  (median of {rounds} rounds)")
    mean_batch = statistics.mean(batches)
    print(f"4 clients, batching     {statistics.median(rps['4']):9.2f} req/s  (mean batch {mean_batch:.2f})")
    print(f"4 clients, no batching  {statistics.median(rps['4u']):9.2f} req/s")
    print(f"batching gain (median of per-round ratios): 4 clients batched / 1 client = {gain_1:.2f}x; "
          f"batched / unbatched at 4 clients = {gain_u:.2f}x")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presets", nargs="+", default=["tiny", "base"])
    parser.add_argument(
        "--requests", nargs="+", type=int, default=[20, 2], help="requests per client per measure, per preset"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the throughput set-ups")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: figures stable on a shared CPU)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    counts = (args.requests + [args.requests[-1]] * len(args.presets))[: len(args.presets)]
    print(f"frame 640x480, torch threads {args.threads}, device cpu")
    with PolicyServer(NullPredictor(), ServerConfig(port=0)) as server:
        null_ms = statistics.median(latencies(NullPredictor(), server.address, 200)["round_trip"])
    print(f"null predictor round trip {null_ms:.2f} ms (the bare protocol, 921,600-byte frame)")
    for name, requests in zip(args.presets, counts, strict=True):
        bench_preset(name, requests, args.rounds)


if __name__ == "__main__":
    main()
