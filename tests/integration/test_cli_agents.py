"""`mnemo ask`, `mnemo consolidate` and `mnemo eval locomo` end to end, on the bundled models."""

import json
from pathlib import Path

import pytest

LOCOMO = [
    {
        "sample_id": "t1",
        "conversation": {
            "speaker_a": "Caroline",
            "speaker_b": "Melanie",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Caroline", "dia_id": "D1:1", "text": "Hey Mel, guess what!"},
                {"speaker": "Melanie", "dia_id": "D1:2", "text": "What happened?"},
                {"speaker": "Caroline", "dia_id": "D1:3", "text": "I adopted a puppy named Rex."},
            ],
            "session_2_date_time": "10:00 am on 20 May, 2023",
            "session_2": [
                {"speaker": "Melanie", "dia_id": "D2:1", "text": "I started pottery classes."},
                {"speaker": "Caroline", "dia_id": "D2:2", "text": "Rex chewed my sandals."},
            ],
        },
        "qa": [
            {"question": "What pet did Caroline adopt?", "evidence": ["D1:3"], "category": 4},
            {"question": "What class did Melanie start?", "evidence": ["D2:1"], "category": 4},
            {"question": "What did Rex chew?", "evidence": ["D2:2; D1:3"], "category": 1},
            {"question": "Unanswerable?", "evidence": [], "category": 5},
        ],
    }
]


@pytest.mark.slow
def test_eval_locomo_scores_retrieval_on_the_turns(mnemo, tmp_path: Path) -> None:
    data = tmp_path / "locomo.json"
    data.write_text(json.dumps(LOCOMO))
    code, out, err = mnemo("--json", "eval", "locomo", "--data", str(data), "--no-agents")
    assert code == 0, err
    figures = json.loads(out)
    assert figures["questions"] == 3  # category 5 has no evidence to find
    assert figures["recall_at_10"] == 1.0  # five turns: everything is in the top ten
    assert figures["recall_at_5"] == 1.0 and figures["recall_at_10_cat4"] == 1.0
    assert figures["turns"] == 5 and figures["memories"] == 0
    assert not (mnemo.folder / "mnemo.db").exists()  # the user's store is not touched

    broken = tmp_path / "broken.json"
    broken.write_text('{"not": "locomo"}')
    code, _, err = mnemo("eval", "locomo", "--data", str(broken), "--no-agents")
    assert code == 1 and "not LoCoMo data" in err


@pytest.mark.slow
def test_ask_answers_with_citations_that_resolve(mnemo) -> None:
    code, out, _ = mnemo(
        "--json", "add", "semantic", "name=Rex", "summary=Rex is the user's puppy, a beagle"
    )
    memory_id = json.loads(out)["id"]
    code, out, err = mnemo("--json", "ask", "What breed is my puppy Rex?")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["intent"] == "ask" and answer["answer"].strip()
    assert memory_id in {c["id"] for c in answer["citations"]}
    code, out, _ = mnemo("--json", "show", memory_id)
    assert code == 0

    code, out, err = mnemo("--json", "ask", "forget about Rex")
    assert code == 1 and "--yes" in err  # never deletes without a confirmation
    code, out, err = mnemo("--json", "ask", "--yes", "forget about Rex")
    assert code == 0, err
    assert json.loads(out)["deleted"] == 1
    code, _, _ = mnemo("show", memory_id)
    assert code == 3


@pytest.mark.slow
def test_consolidate_merges_duplicates(mnemo) -> None:
    for _ in range(2):
        mnemo("add", "semantic", "name=Rex", "summary=Rex is the user's beagle puppy")
    code, out, err = mnemo("--json", "consolidate")
    assert code == 0, err
    report = json.loads(out)
    assert len(report["merged"]) == 1
    code, out, _ = mnemo("--json", "list", "--type", "semantic")
    assert len(json.loads(out)) == 1


@pytest.mark.slow
def test_a_chatgpt_export_can_be_ingested_and_asked_about(mnemo, tmp_path: Path) -> None:
    from tests.unit.test_ingest_chats import chatgpt_export

    export = tmp_path / "conversations.json"
    export.write_text(json.dumps(chatgpt_export()))
    code, out, err = mnemo("--json", "ingest", "chat", str(export))
    assert code == 0, err
    assert json.loads(out)["turns"] == 2
    code, out, err = mnemo("--json", "ask", "What was the plan for day 1 in Lisbon?")
    assert code == 0, err
    answer = json.loads(out)
    turn = next(c for c in answer["shown"] if c["label"] == "assistant: Day 1: Alfama")
    assert turn["kind"] == "source" and turn["sources"] == [turn["id"]]
    assert answer["citations"]
    assert "An abandoned branch" not in json.dumps(answer)  # the branch the user left


@pytest.mark.slow
def test_a_claude_export_is_ingested_once(mnemo) -> None:
    export = Path(__file__).parent.parent / "data" / "claude" / "conversations.json"
    code, out, err = mnemo("--json", "ingest", "chat", str(export))
    assert code == 0, err
    figures = json.loads(out)
    assert (figures["sessions"], figures["turns"], figures["already_known"]) == (3, 10, 0)
    code, out, _ = mnemo("--json", "search", "vegetarian Porto", "--in", "sources")
    assert any("Marta is vegetarian" in hit["source"]["text"] for hit in json.loads(out))
    code, out, err = mnemo("--json", "ingest", "chat", str(export))
    assert code == 0, err
    figures = json.loads(out)
    assert (figures["turns"], figures["already_known"], figures["batches"]) == (0, 10, 0)
