import pytest

from rankwise import Candidate, InputError, Query, Ranking, Request


def test_plain_strings_become_candidates_with_positional_docids():
    request = Request.build("fleas", ["a", "b"])
    assert [c.docid for c in request.candidates] == ["0", "1"]
    assert request.query == Query("q0", "fleas")


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_query_is_rejected(text):
    with pytest.raises(InputError, match="query 'q0' is empty"):
        Request.build(text, ["a passage"])


def test_duplicate_docid_names_the_docid_and_position():
    with pytest.raises(InputError, match=r"duplicate docid 'd1' at position 2"):
        Request.build("q", [Candidate("d1", "x"), Candidate("d2", "y"), Candidate("d1", "z")])


def test_non_string_candidate_is_rejected():
    with pytest.raises(InputError, match="candidate at position 1 is a int"):
        Request.build("q", ["ok", 42])
    with pytest.raises(InputError, match="not a single string"):
        Request.build("q", "just one string")


def test_empty_candidate_list_gives_empty_ranking():
    request = Request.build("q", [])
    assert len(Ranking.from_scores(request, [])) == 0


def test_from_scores_orders_descending_and_keeps_ties_in_input_order():
    request = Request.build("q", ["a", "b", "c", "d"])
    ranking = Ranking.from_scores(request, [0.1, 0.5, 0.5, 0.9])
    assert ranking.docids == ["3", "1", "2", "0"]
    assert [r.rank for r in ranking] == [1, 2, 3, 4]
    assert ranking[0].score == pytest.approx(0.9)
    assert ranking.top(2).docids == ["3", "1"]


def test_from_order_rejects_non_permutation():
    request = Request.build("q", ["a", "b"])
    with pytest.raises(ValueError, match="permutation"):
        Ranking.from_order(request, [0, 0], [1.0, 1.0])


def test_first_stage_ranking_uses_scores_or_input_order():
    scored = Request.build("q", [Candidate("a", "x", score=1.0), Candidate("b", "y", score=3.0)])
    assert Ranking.first_stage(scored).docids == ["b", "a"]
    unscored = Request.build("q", ["x", "y", "z"])
    ranking = Ranking.first_stage(unscored)
    assert ranking.docids == ["0", "1", "2"] and [r.score for r in ranking] == [3.0, 2.0, 1.0]


def test_from_head_reorders_the_head_and_keeps_the_tail_below_in_input_order():
    request = Request(Query("q", "query"), [Candidate(str(i), f"text {i}") for i in range(5)])
    ranking = Ranking.from_head(request, [2, 0, 1], [0.9, 0.5, 0.1])
    assert ranking.docids == ["2", "0", "1", "3", "4"]
    assert [r.score for r in ranking.results] == pytest.approx([0.9, 0.5, 0.1, -0.9, -1.9])
