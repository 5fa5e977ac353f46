import numpy as np
import pytest

from pixelpad.actions import INDEX, MENU_BUTTONS
from pixelpad.eval.agents import ChunkAgent, RandomAgent, chunk_stride, policy_label, previous_steps
from pixelpad.eval.errors import EvalError

FRAME = np.zeros((8, 8, 3), np.uint8)


def test_random_agent_is_seeded_holds_and_never_presses_menu_buttons():
    def play(seed):
        agent = RandomAgent(hold=4)
        agent.reset(seed)
        return np.stack([agent.act(FRAME) for _ in range(40)])

    a, b, c = play(1), play(1), play(2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert (a[0] == a[3]).all() and not (a[3] == a[4]).all()  # one draw held for 4 steps
    assert a[:, [INDEX[m] for m in MENU_BUTTONS]].max() == 0


def test_chunk_agent_replans_every_execute_steps_and_masks_menu_buttons():
    calls, resets = [], []

    def predict(frame):
        calls.append(1)
        chunk = np.zeros((6, 21), np.float32)
        chunk[:, INDEX["start"]] = 1.0
        chunk[:, INDEX["south"]] = np.arange(6) % 2
        return chunk

    agent = ChunkAgent(predict, on_reset=resets.append, execute=4)
    agent.reset(7)
    actions = np.stack([agent.act(FRAME) for _ in range(10)])
    assert len(calls) == 3 and resets == [7]  # steps 0, 4, 8
    assert actions[:, INDEX["start"]].max() == 0
    np.testing.assert_array_equal(actions[:4, INDEX["south"]], [0, 1, 0, 1])


def test_a_slower_task_plays_every_kth_chunk_action_for_the_same_span_of_time():
    def predict(frame):
        chunk = np.zeros((16, 21), np.float32)
        chunk[:, INDEX["left_x"]] = np.arange(16) / 16  # the chunk's step index, readable in the action
        return chunk

    assert chunk_stride(30.0, 10.0) == 3 and chunk_stride(30.0, 30.0) == 1 and chunk_stride(None, 10.0) == 1
    agent = ChunkAgent(predict, execute=8, stride=3)
    agent.reset(0)
    played = np.stack([agent.act(FRAME) for _ in range(6)])[:, INDEX["left_x"]] * 16
    # 8 actions at 30 fps span 3 steps at 10 fps: chunk steps 0, 3, 6, then a new chunk
    np.testing.assert_allclose(played, [0, 3, 6, 0, 3, 6])


def test_a_policy_reading_the_previous_frame_gets_the_frame_its_gap_spans():
    """gap 3 at 30 fps: the frame 3 steps back; on a 10 fps task (stride 3): the last one; the
    episode's first frame while the episode is younger, as in training."""
    seen = []

    def predict(frame, previous):
        seen.append((int(frame[0, 0, 0]), int(previous[0, 0, 0])))
        return np.zeros((16, 21), np.float32)

    for stride, expected in ((1, [(0, 0), (4, 1), (8, 5)]), (3, [(0, 0), (4, 3), (8, 7)])):
        seen.clear()
        agent = ChunkAgent(predict, execute=4 * stride, stride=stride, frame_gap=3)
        agent.reset(0)
        for step in range(10):
            agent.act(np.full((8, 8, 3), step, np.uint8))
        assert seen[:3] == expected, (stride, seen)
        agent.reset(1)  # a new episode forgets the last one's frames
        agent.act(np.full((8, 8, 3), 99, np.uint8))
        assert seen[-1] == (99, 99)
    assert [previous_steps(g, s) for g, s in ((3, 1), (3, 3), (2, 3), (8, 3))] == [3, 1, 1, 3]


def test_chunk_agent_rejects_bad_chunks():
    agent = ChunkAgent(lambda frame: np.zeros((3, 5), np.float32))
    with pytest.raises(Exception, match="21"):
        agent.act(FRAME)
    with pytest.raises(EvalError):
        ChunkAgent(lambda frame: frame, execute=0)
    with pytest.raises(EvalError):
        ChunkAgent(lambda frame: frame, stride=0)
    with pytest.raises(EvalError):
        ChunkAgent(lambda frame: frame, frame_gap=-1)


def test_policy_labels():
    assert policy_label("random") == "random"
    assert policy_label("tcp://gpu-box:5555") == "tcp-gpu-box-5555"
    assert policy_label("/ckpt/run 3/") == "run-3"
