"""The server answers, batches, refuses bad or unauthorised requests, and never stops serving."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest
import zmq
from serve_standins import MeanPredictor, expected_chunk, flat_frame

from pixelpad.serve import Client, PolicyServer, RemoteError, ServerConfig, ServeTimeout, protocol

pytestmark = pytest.mark.timeout(60)


def test_info_reset_and_predict(server: PolicyServer) -> None:
    with Client(server.address, timeout=5) as client:
        info = client.info()
        assert info["server"] == "pixelpad" and info["predictor"]["horizon"] == 4 and info["auth"] is False
        assert client.reset()["session"] == client.session
        frame = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
        chunk = client.predict(frame)
    np.testing.assert_allclose(chunk, expected_chunk(frame), rtol=1e-6)
    assert chunk.dtype == np.float32 and client.last_timing["batch_size"] == 1


def test_loopback_by_default() -> None:
    assert ServerConfig().host == "127.0.0.1"
    with PolicyServer(MeanPredictor(), ServerConfig(port=0)) as server:
        assert server.address.startswith("tcp://127.0.0.1:")


def test_a_policy_reading_two_frames_is_served_the_pair_and_refuses_one_frame() -> None:
    """The previous frame travels with the frame and reaches the policy: the server answers what the
    policy answers locally (same noise seed), and a request without it is refused, not played blind."""
    import torch

    from pixelpad.policy import Policy, get_preset
    from pixelpad.serve import PolicyPredictor

    torch.manual_seed(0)
    policy = Policy(get_preset("tiny").replace(previous_frame_gap=3, vision_layers=1, dit_layers=1))
    frame, previous = flat_frame(90, (64, 64)), flat_frame(30, (64, 64))
    frame[20:30, 20:30] = 250
    local = PolicyPredictor(policy, seed=4).predict(frame[None], previous=previous[None])[0]
    blind = PolicyPredictor(policy, seed=4).predict(frame[None])[0]
    assert not np.allclose(local, blind)  # the previous frame changes the answer
    served = PolicyServer(PolicyPredictor(policy, seed=4), ServerConfig(port=0))
    with served as server, Client(server.address) as client:
        assert client.info()["predictor"]["previous_frame_gap"] == 3
        np.testing.assert_allclose(client.predict(frame, previous), local, atol=1e-6)
        with pytest.raises(RemoteError, match="send it as previous"):
            client.predict(frame)
    one_frame = PolicyServer(MeanPredictor(), ServerConfig(port=0))
    refused = pytest.raises(RemoteError, match="reads one frame")
    with one_frame as server, Client(server.address) as client, refused:
        client.predict(frame, previous)


def test_token_is_enforced(predictor: MeanPredictor) -> None:
    with PolicyServer(predictor, ServerConfig(port=0, token="s3cret")) as server:
        for token in (None, "wrong", "s3cret-but-longer"):
            with Client(server.address, token=token, timeout=5) as client, pytest.raises(RemoteError) as err:
                client.predict(flat_frame(9))
            assert err.value.code == protocol.UNAUTHORIZED
        assert predictor.batch_sizes == []  # nothing unauthorised reached the model
        with Client(server.address, token="s3cret", timeout=5) as client:
            np.testing.assert_allclose(client.predict(flat_frame(9)), expected_chunk(flat_frame(9)))
            assert client.info()["auth"] is True


def test_two_clients_at_once_get_their_own_answers_batched() -> None:
    # 20 ms of "compute" per batch: while one batch runs, the other client's request waits and joins
    # the next one, so batches of two must appear.
    predictor = MeanPredictor(delay=0.02)
    results: dict[int, list[bool]] = {}

    def run(value: int) -> None:
        with Client(server.address, timeout=10) as client:
            frame = flat_frame(value)
            ok = []
            for _ in range(15):
                ok.append(np.allclose(client.predict(frame), expected_chunk(frame)))
            results[value] = ok

    with PolicyServer(predictor, ServerConfig(port=0, batch_window_ms=10)) as server:
        threads = [threading.Thread(target=run, args=(value,)) for value in (40, 220)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == {40: [True] * 15, 220: [True] * 15}
    assert max(predictor.batch_sizes) == 2
    assert sum(predictor.batch_sizes) == 30


def test_frames_of_different_sizes_are_batched_apart() -> None:
    predictor = MeanPredictor(delay=0.02)
    with PolicyServer(predictor, ServerConfig(port=0, batch_window_ms=50)) as server:
        answers = {}

        def run(size: tuple[int, int]) -> None:
            with Client(server.address, timeout=10) as client:
                answers[size] = client.predict(flat_frame(size[0], size))

        threads = [threading.Thread(target=run, args=(size,)) for size in ((16, 16), (20, 12))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for size, chunk in answers.items():
        np.testing.assert_allclose(chunk, expected_chunk(flat_frame(size[0], size)))


def test_a_failing_predictor_is_reported_and_serving_goes_on() -> None:
    predictor = MeanPredictor(fail=True)
    with PolicyServer(predictor, ServerConfig(port=0)) as server, Client(server.address, timeout=5) as client:
        with pytest.raises(RemoteError) as err:
            client.predict(flat_frame(1))
        assert err.value.code == protocol.INTERNAL and "stand-in failure" in str(err.value)
        predictor.fail = False
        np.testing.assert_allclose(client.predict(flat_frame(1)), expected_chunk(flat_frame(1)))


def test_slow_and_dead_clients_do_not_block_others(server: PolicyServer) -> None:
    host, port = server.address.removeprefix("tcp://").rsplit(":", 1)
    context = zmq.Context.instance()
    # A peer that floods predicts and never reads its replies.
    hog = context.socket(zmq.DEALER)
    hog.setsockopt(zmq.LINGER, 0)
    hog.connect(server.address)
    frame = protocol.encode_array(flat_frame(5))
    for i in range(50):
        hog.send_multipart([b"", protocol.pack({"v": 1, "id": i, "cmd": "predict", "frame": frame})])
    # A peer that opens TCP, sends half a handshake, and stalls.
    stalled = socket.create_connection((host, int(port)))
    stalled.sendall(b"\xff\x00\x00")
    # A peer that sends a request and vanishes before the reply.
    gone = context.socket(zmq.DEALER)
    gone.setsockopt(zmq.LINGER, 1000)
    gone.connect(server.address)
    gone.send_multipart([b"", protocol.pack({"v": 1, "id": 1, "cmd": "predict", "frame": frame})])
    gone.close()
    try:
        with Client(server.address, timeout=2, retries=0) as client:
            start = time.monotonic()
            for value in range(10):
                np.testing.assert_allclose(
                    client.predict(flat_frame(value)), expected_chunk(flat_frame(value))
                )
            assert time.monotonic() - start < 5
    finally:
        stalled.close()
        hog.close()


def test_busy_when_the_queue_is_full() -> None:
    predictor = MeanPredictor(delay=0.3)
    config = ServerConfig(port=0, max_queue=1, max_batch=1)
    with PolicyServer(predictor, config) as server:
        peer = zmq.Context.instance().socket(zmq.DEALER)
        peer.setsockopt(zmq.LINGER, 0)
        peer.connect(server.address)
        frame = protocol.encode_array(flat_frame(5))
        for i in range(4):
            peer.send_multipart([b"", protocol.pack({"v": 1, "id": i, "cmd": "predict", "frame": frame})])
        codes = []
        for _ in range(4):
            assert peer.poll(5000)
            reply = protocol.unpack(peer.recv_multipart()[-1], protocol.Limits())
            codes.append(reply["result"] and "ok" if reply["ok"] else reply["error"]["code"])
        peer.close()
    assert codes.count(protocol.BUSY) >= 1 and codes.count("ok") >= 1


def test_client_times_out_then_reconnects_when_the_server_appears() -> None:
    with socket.socket() as probe:  # a port nobody listens on (yet)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    with Client(address, timeout=0.2, retries=1) as client:
        start = time.monotonic()
        with pytest.raises(ServeTimeout):
            client.info()
        assert time.monotonic() - start < 10  # two tries of 0.2 s, on a loaded machine
    late = PolicyServer(MeanPredictor(), ServerConfig(port=port))
    timer = threading.Timer(0.5, late.start)
    timer.start()
    try:
        with Client(address, timeout=0.3, retries=100) as client:
            np.testing.assert_allclose(client.predict(flat_frame(70)), expected_chunk(flat_frame(70)))
    finally:
        timer.join()
        late.stop()


def test_binding_a_busy_port_says_so(server: PolicyServer) -> None:
    port = int(server.address.rsplit(":", 1)[1])
    with pytest.raises(protocol.ServeError, match="cannot listen"):
        PolicyServer(MeanPredictor(), ServerConfig(port=port)).start()
