"""Progress in a log file: plain lines with count, elapsed time and ETA, since Rich draws nothing there."""

from rankwise.cli.common import LoggedProgress, progress_bar


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_logged_progress_prints_every_interval_and_at_the_end(capsys):
    clock = FakeClock()
    progress = LoggedProgress("labelling", every=30.0, clock=clock)
    progress.update(0, total=10)
    clock.now = 1.0
    progress.advance(0, 1)
    assert capsys.readouterr().err == ""  # too soon for a line
    clock.now = 40.0
    progress.advance(0, 4)
    clock.now = 41.0
    progress.update(0, completed=8, description="loss 0.512")  # too soon again
    clock.now = 50.0
    progress.advance(0, 2)
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["labelling: 5/10, 0:00:40 elapsed, about 0:00:40 left", "loss 0.512: 10/10, 0:00:50 elapsed"]


def test_progress_bar_falls_back_to_lines_off_a_terminal(capsys):
    with progress_bar("features") as bar:
        bar(0, total=3)
        bar(3)
    assert "features: 3/3, 0:00:00 elapsed" in capsys.readouterr().err


def test_reset_starts_the_count_and_clock_again(capsys):
    clock = FakeClock()
    progress = LoggedProgress("bench", every=30.0, clock=clock)
    progress.reset(0, total=2, description="first reranker")
    clock.now = 100.0
    progress.advance(0, 2)
    progress.reset(0, total=4, description="second reranker")
    clock.now = 110.0
    progress.advance(0, 4)
    assert capsys.readouterr().err.splitlines() == [
        "first reranker: 2/2, 0:01:40 elapsed",
        "second reranker: 4/4, 0:00:10 elapsed",
    ]
