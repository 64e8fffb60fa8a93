"""Privacy: deletions, ban-clears, opt-outs, forgetting, opt-in-only, applied to collected files."""

from __future__ import annotations

import json

from trainer.corpus import privacy
from trainer.corpus.records import ChatRecord, read_records, write_records


def collect(channel_dir, day, rows):
    records = [
        ChatRecord(text=text, channel="chan", stream=day, ts=f"{day}T{hms}Z", id=mid, user=user)
        for mid, user, hms, text in rows
    ]
    write_records(channel_dir / f"{day}.jsonl", records)


def texts(channel_dir):
    return [r.text for p in privacy.collected_files(channel_dir) for r in read_records(p)]


def test_each_operation_purges_files_and_policy(tmp_path):
    chan = tmp_path / "chan"
    collect(chan, "2026-11-27", [("m1", "uA", "10:00:00", "old from A"), ("m2", "uB", "10:00:01", "old from B")])
    collect(chan, "2026-11-28", [
        ("m3", "uA", "10:00:00", "hello from A"),
        ("m4", "uB", "10:00:01", "deleted one"),
        ("m5", "uC", "10:00:02", "before the ban"),
        ("m6", "uD", "10:00:03", "D talks"),
        ("m7", "uE", "10:00:04", "E talks"),
    ])
    before = (chan / "2026-11-27.jsonl").read_bytes()
    assert privacy.delete_message(chan, "m4") == 1
    assert (chan / "2026-11-27.jsonl").read_bytes() == before  # untouched file stays byte-identical
    assert privacy.clear_user(chan, "uC", when="2026-11-28T10:00:02Z") == 1
    assert privacy.opt_out(chan, "uA") == 2
    assert privacy.forget(chan, "uD") == 1
    assert texts(chan) == ["old from B", "E talks"]
    policy = privacy.PolicyStore(chan).load()
    assert policy.deleted_ids == {"m4"} and policy.opted_out == {"uA"} and policy.forgotten == {"uD"}
    assert not policy.may_collect("uA") and not policy.may_collect("uD") and policy.may_collect("uC")
    # A cleared user's later messages are fine; earlier ones (e.g. appended during the purge) are not.
    later = ChatRecord(text="after", ts="2026-11-28T11:00:00Z", user="uC")
    earlier = ChatRecord(text="before", ts="2026-11-28T09:00:00Z", user="uC")
    assert policy.may_learn(later) and not policy.may_learn(earlier)
    assert not policy.may_learn(ChatRecord(text="x", id="m4"))
    # No temporary files left behind.
    assert {p.name for p in chan.iterdir()} == {"2026-11-27.jsonl", "2026-11-28.jsonl", ".policy.json"}


def test_opt_in_only_and_opt_in(tmp_path):
    chan = tmp_path / "chan"
    collect(chan, "2026-11-28", [("m1", "uA", "10:00:00", "from A"), ("m2", "uB", "10:00:01", "from B")])
    privacy.opt_out(chan, "uA")
    privacy.opt_in(chan, "uA")
    privacy.set_opt_in_only(chan, True)
    policy = privacy.PolicyStore(chan).load()
    assert policy.may_collect("uA") and not policy.may_collect("uB") and not policy.may_collect(None)
    assert [r.text for r in privacy.learnable_records(chan)] == []  # A's old message was purged
    collect(chan, "2026-11-29", [("m3", "uA", "10:00:00", "A again"), ("m4", "uB", "10:00:01", "B again")])
    assert [r.text for r in privacy.learnable_records(chan)] == ["A again"]


def test_block_words_persist(tmp_path):
    chan = tmp_path / "chan"
    assert privacy.block_word(chan, "Badword")
    assert not privacy.block_word(chan, "badword")
    assert json.loads((chan / ".policy.json").read_text())["blocked_words"] == ["Badword"]
    assert privacy.unblock_word(chan, "BADWORD")
    assert privacy.PolicyStore(chan).load().blocked_words == []


def test_an_unreadable_policy_fails_closed_and_is_never_overwritten(tmp_path, caplog):
    chan = tmp_path / "chan"
    collect(chan, "2026-11-28", [("m1", "uA", "10:00:00", "hello"), ("m2", "uB", "10:00:01", "there")])
    damaged = '{"opt_in_only": true, "allowed": ["uA"], "opted_out": ["uB"'  # cut off mid-write
    (chan / privacy.POLICY_FILE).write_text(damaged, encoding="utf-8")
    policy = privacy.PolicyStore(chan).load()
    assert policy.problem and not policy.may_collect("uA") and not policy.may_collect(None)
    assert list(privacy.learnable_records(chan)) == []  # learn nothing
    assert privacy.policy_problem(chan)
    privacy.PolicyStore(chan).load()
    assert sum("unreadable" in r.getMessage() for r in caplog.records) == 1  # said once

    # A moderator action that must write moves the damaged file aside instead of overwriting it.
    privacy.opt_out(chan, "uC")
    aside = [p for p in chan.iterdir() if p.name.startswith(privacy.POLICY_FILE + ".unreadable-")]
    assert len(aside) == 1 and aside[0].read_text(encoding="utf-8") == damaged
    assert any("moved the unreadable" in r.getMessage() for r in caplog.records)
    policy = privacy.PolicyStore(chan).load()
    assert policy.problem and "uC" in policy.opted_out
    assert not policy.may_collect("uA") and list(privacy.learnable_records(chan)) == []  # still closed

    # Restored by a person: collection and learning follow the restored policy again.
    aside[0].write_text('{"opt_in_only": true, "allowed": ["uA"], "opted_out": ["uB"]}', encoding="utf-8")
    aside[0].replace(chan / privacy.POLICY_FILE)
    assert [r.text for r in privacy.learnable_records(chan)] == ["hello"]
