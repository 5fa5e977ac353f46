"""The play loop: receding horizon, menu masking, episodes, recording, local or through a server."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from serve_standins import FakeGame, MeanPredictor, expected_chunk

from pixelpad.actions import INDEX, NAMES
from pixelpad.serve import Client, PolicyServer, ServeError, ServerConfig
from pixelpad.serve.player import play
from pixelpad.video import probe, read_frames


@pytest.mark.parametrize(("execute", "chunks"), [(None, 3), (4, 3), (2, 5), (1, 10)])
def test_receding_horizon_replans_every_execute_steps(execute: int | None, chunks: int) -> None:
    predictor = MeanPredictor(horizon=4)
    result = play(FakeGame(), predictor, steps=10, execute=execute, progress=False)
    assert result.chunks == chunks == len(predictor.batch_sizes) == len(result.think_ms)
    assert result.total_reward == 10.0 and result.steps == 10


def test_each_action_comes_from_the_chunk_of_the_frame_it_was_planned_on() -> None:
    game = FakeGame()
    play(game, MeanPredictor(horizon=4), steps=6, execute=3, progress=False)
    planned_on = [np.full((48, 64, 3), (t * 37) % 256, np.uint8) for t in (0, 3)]
    want = [expected_chunk(frame)[i] for frame in planned_on for i in range(3)]
    want = [np.where(np.arange(21) == INDEX["start"], 0.0, a) for a in want]  # start is masked
    np.testing.assert_allclose(np.stack(game.received), np.stack(want))


class TwoFrames(MeanPredictor):
    """A two-frame policy's stand-in: logs (frame, previous frame) brightness; right_x says the latter."""

    def __init__(self) -> None:
        super().__init__()
        self.pairs: list[tuple[int, int]] = []

    def predict(self, frames: np.ndarray, previous: np.ndarray) -> np.ndarray:
        self.pairs += [(int(f[0, 0, 0]), int(p[0, 0, 0])) for f, p in zip(frames, previous, strict=True)]
        chunks = super().predict(frames)
        chunks[:, :, INDEX["right_x"]] = previous.reshape(len(previous), -1).mean(axis=1)[:, None] / 255
        return chunks

    def info(self) -> dict[str, int]:
        return {**super().info(), "previous_frame_gap": 2}


def test_a_policy_reading_two_frames_gets_the_observation_previous_steps_back() -> None:
    """Planned at steps 0, 3, 6 with previous_steps 2: the earlier frames are those of steps 0, 1, 4;
    after an episode ends, the new episode's first frame stands in again."""
    policy = TwoFrames()
    play(FakeGame(episode_length=7), policy, steps=9, execute=3, previous_steps=2, progress=False)
    step = [(t * 37) % 256 for t in range(7)]
    assert policy.pairs == [(step[0], step[0]), (step[3], step[1]), (step[6], step[4]), (step[0], step[0])]
    with pytest.raises(ServeError, match="previous_steps"):
        play(FakeGame(), MeanPredictor(), steps=1, previous_steps=-1, progress=False)


def test_menu_buttons_are_masked_unless_allowed() -> None:
    game = FakeGame()
    play(game, MeanPredictor(), steps=5, progress=False)
    assert all(a[INDEX["start"]] == 0 for a in game.received)
    game = FakeGame()
    play(game, MeanPredictor(), steps=5, allow_buttons=("start",), progress=False)
    assert all(a[INDEX["start"]] == 1 for a in game.received)
    with pytest.raises(ServeError, match="unknown button"):
        play(FakeGame(), MeanPredictor(), steps=1, allow_buttons=("pause",), progress=False)


def test_an_ended_episode_resets_the_game_and_the_plan() -> None:
    game = FakeGame(episode_length=3)
    predictor = MeanPredictor(horizon=4)
    result = play(game, predictor, steps=7, progress=False)
    # episodes of 3 steps: plans at steps 0, 3, 6 (the 4th action of each chunk is never played)
    assert game.resets == 3 and result.episodes == 3 and result.chunks == 3
    # an episode ending on the very last step does not start another game
    game = FakeGame(episode_length=3)
    assert play(game, predictor, steps=6, progress=False).episodes == 2 and game.resets == 2


def test_recording_has_the_video_and_the_actions(tmp_path) -> None:
    game = FakeGame()
    result = play(game, MeanPredictor(horizon=4), steps=9, execute=3, record_dir=tmp_path, progress=False)
    video = probe(result.video)
    assert video.num_frames == 9 and video.height == 360 and video.width > 480  # game | panel
    frames = read_frames(result.video)
    assert len(frames) == 9 and frames.std() > 0
    table = pq.read_table(result.actions).to_pandas()
    assert len(table) == 9 and list(table["chunk"]) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    np.testing.assert_allclose(table[list(NAMES)].to_numpy(), np.stack(game.received))
    np.testing.assert_allclose(table["virtual_time"], (np.arange(9) + 1) / 10)
    planned = table.dropna(subset=["think_ms"])
    assert list(planned["position"]) == [0, 0, 0]
    assert np.asarray(planned["chunk_actions"].iloc[0].tolist()).shape == (4, 21)


def test_playing_through_a_server_matches_playing_locally() -> None:
    local = FakeGame()
    play(local, MeanPredictor(), steps=8, execute=2, progress=False)
    remote = FakeGame()
    server = PolicyServer(MeanPredictor(), ServerConfig(port=0)).start()
    try:
        with Client(server.address, timeout=5) as client:
            result = play(remote, client, steps=8, execute=2, progress=False)
    finally:
        server.stop()
    np.testing.assert_array_equal(np.stack(remote.received), np.stack(local.received))
    assert result.chunks == 4


def test_a_policy_answering_garbage_is_an_error() -> None:
    class Broken(MeanPredictor):
        def predict(self, frames: np.ndarray) -> np.ndarray:
            return np.full((len(frames), 4, 21), 0.5, np.float32)  # buttons must be 0 or 1

    with pytest.raises(ServeError, match="invalid actions"):
        play(FakeGame(), Broken(), steps=2, progress=False)


def test_a_two_frame_policy_plays_through_a_server_as_it_plays_locally() -> None:
    local, remote = FakeGame(), FakeGame()
    play(local, TwoFrames(), steps=8, execute=2, previous_steps=2, progress=False)
    with (
        PolicyServer(TwoFrames(), ServerConfig(port=0)) as server,
        Client(server.address, timeout=5) as client,
    ):
        play(remote, client, steps=8, execute=2, previous_steps=2, progress=False)
    np.testing.assert_allclose(np.stack(remote.received), np.stack(local.received))
    assert np.stack(local.received)[:, INDEX["right_x"]].std() > 0  # the previous frames were sent
