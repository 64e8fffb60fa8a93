"""Every log format: detection and parsing, on small fixtures written here and on real lines."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from trainer.ingest.formats import FORMATS, Message, detect_format, open_log, resolve_format


def write(tmp_path: Path, name: str, text: str, *, gz: bool = False, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    data = text.encode(encoding)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def parse(path: Path, fmt: str | None = None) -> tuple[str, list[Message], object]:
    source = open_log(path, fmt)
    messages = list(source.messages)
    return source.info.format, messages, source.info


def test_tcd_default_and_irc(tmp_path):
    path = write(tmp_path, "752430475.txt",
                 "[0:00:05] <Viewer_One> hello chat Kappa\n"
                 "[1:02:05] <~SomeStreamer> thanks for the sub!\n"
                 "[0:00:05] <%Viewer_Two> badge prefix\n"
                 "[1 day, 0:00:05] <Late_One> still here\n"
                 "[0:09:40] <PelicanLife  > trailing spaces in a display name\n")
    fmt, messages, info = parse(path)
    assert fmt == "tcd"
    assert [m.user for m in messages] == ["Viewer_One", "SomeStreamer", "Viewer_Two", "Late_One", "PelicanLife"]
    assert messages[0].text == "hello chat Kappa" and messages[0].offset == 5
    assert messages[3].offset == 86405
    assert info.unparsed == 0


@pytest.mark.parametrize("stamp, ts, offset", [
    ("[0:00:05] ", None, 5.0),
    ("[25:03:04] ", None, 25 * 3600 + 184.0),
    ("[2020-05-01 18:00:05 UTC] ", "2020-05-01T18:00:05.000Z", None),
    ("[2020-05-01 18:00:05.432 UTC] ", "2020-05-01T18:00:05.432Z", None),
    ("", None, None),
])
def test_twitchdownloader_txt_every_timestamp_style(tmp_path, stamp, ts, offset):
    path = write(tmp_path, "chat.txt", "".join(f"{stamp}Viewer_{i}: hello chat Kappa\n" for i in range(5)))
    fmt, messages, _ = parse(path)
    assert fmt == "twitchdownloader-txt"
    assert messages[0] == Message("Viewer_0", "hello chat Kappa", ts, offset)


def test_overrustlelogs(tmp_path):
    path = write(tmp_path, "sodapoppin-2017-01-10.txt",
                 "[2017-01-10 08:57:47 UTC] viewer_one: hello chat Kappa\n"
                 "[2017-01-10 08:58:02 UTC] twitchnotify: viewer_two just subscribed!\n"
                 "[2017-01-10 08:58:03 UTC] viewer_three: /me waves\n")
    fmt, messages, _ = parse(path)
    assert fmt == "twitchdownloader-txt"
    assert messages[1].is_system and not messages[0].is_system
    assert messages[2].text == "/me waves"
    assert parse(path, "overrustlelogs")[1] == messages


def test_chatterino_one_and_two_spaces(tmp_path):
    text = ("# Start logging at 2024-01-05 18:00:00 UTC\n"
            "[18:00:05] viewer_one: hello chat Kappa\n"
            "[18:00:14] 表示名 hyoujimei: こんにちは\n"
            "[18:01:25] viewer_one subscribed at Tier 1. They've subscribed for 5 months!\n"
            "[00:00:03]  viewer_two: past midnight, two spaces\n"
            "# Stop logging at 2024-01-06 00:10:00 UTC\n")
    path = write(tmp_path, "somestreamer-2024-01-05.log", text)
    fmt, messages, info = parse(path)
    assert fmt == "chatterino"
    assert [m.user for m in messages if not m.is_system] == ["viewer_one", "hyoujimei", "viewer_two"]
    assert messages[1].text == "こんにちは"
    assert messages[0].ts == "2024-01-05T18:00:05.000Z"
    assert messages[2].is_system
    assert messages[3].ts == "2024-01-06T00:00:03.000Z"
    assert info.channel == "somestreamer" and info.meta_lines == 2


def test_justlog_and_rustlog(tmp_path):
    path = write(tmp_path, "justlog.txt",
                 "[2020-05-1 18:00:05] #somestreamer viewer_one: hello chat Kappa\r\n"
                 "[2020-05-01 18:00:06] #somestreamer viewer_two: rustlog pads the day\r\n"
                 "[2020-05-01 18:00:07] #somestreamer viewer_three has been timed out for 10m\r\n")
    fmt, messages, info = parse(path)
    assert fmt == "justlog"
    assert messages[0] == Message("viewer_one", "hello chat Kappa", "2020-05-01T18:00:05.000Z")
    assert messages[1].text == "rustlog pads the day"  # CRLF gone
    assert messages[2].is_system and info.channel == "somestreamer"


def test_raw_irc_with_tags_capture_time_and_server_lines(tmp_path):
    text = (
        ":tmi.twitch.tv 001 justinfan123 :Welcome, GLHF!\n"
        "PING :tmi.twitch.tv\n"
        "@badge-info=subscriber/4;badges=broadcaster/1;color=#00FF80;display-name=gempir;emotes=80481:2-6;"
        "tmi-sent-ts=1598648643232;user-id=77829817 :gempir!gempir@gempir.tmi.twitch.tv PRIVMSG #gempir :😂 pajaW\n"
        "@color=#1E0ACC;display-name=3ventic;emotes=25:0-4,12-16/1902:6-10 :3ventic!3ventic@3ventic.tmi.twitch.tv "
        "PRIVMSG #gempir :Kappa Keepo Kappa\n"
        "2019-04-30_08:57:00 ;;; :nick!nick@nick.tmi.twitch.tv PRIVMSG #gempir :\x01ACTION waves\x01\n"
        "@msg-id=resub;login=subber :tmi.twitch.tv USERNOTICE #gempir :resub message\n"
    )
    path = write(tmp_path, "capture.irc", text)
    fmt, messages, info = parse(path)
    assert fmt == "irc"
    assert messages[0].user == "gempir" and messages[0].emotes == ("pajaW",)
    assert messages[0].ts == "2020-08-28T21:04:03.232Z"
    assert messages[1].emotes == ("Kappa", "Keepo")
    assert messages[2].is_action and messages[2].text == "waves" and messages[2].ts == "2019-04-30T08:57:00.000Z"
    assert messages[3].is_system
    assert info.meta_lines == 2 and info.channel == "gempir"


def test_tsv(tmp_path):
    path = write(tmp_path, "Week-1_01_06_2021fl0m.log",
                 "StartTime: 2021-06-08 19:42:00\n"
                 "2021-06-08 19:42:45,041\tgoidenbirb\thello chat peepoHuggers\n"
                 "2021-06-08 19:42:45,366\tf1nitecs\t\x01ACTION LOTSA EFFS monkaW\x01\n")
    fmt, messages, info = parse(path)
    assert fmt == "tsv"
    assert messages[0] == Message("goidenbirb", "hello chat peepoHuggers", "2021-06-08T19:42:45.041Z")
    assert messages[1].text.startswith("\x01ACTION")  # unwrapped by cleaning
    assert info.meta_lines == 1


def test_csv_with_a_message_column(tmp_path):
    path = write(tmp_path, "chat.csv",
                 "time,username,message\n"
                 "2024-01-05 18:00:05,viewer_one,\"hello, chat Kappa\"\n"
                 "1704477606,viewer_two,second\n")
    fmt, messages, _ = parse(path)
    assert fmt == "csv"
    assert messages[0] == Message("viewer_one", "hello, chat Kappa", "2024-01-05T18:00:05.000Z")
    assert messages[1].ts == "2024-01-05T18:00:06.000Z"


def test_irc_client_log_with_headers_and_system_lines(tmp_path):
    text = ("\ufeff# Log started: 2016-10-01 07:36:02 +0800\r\n"
            "[07:36:02] Joining #riotgames..\r\n"
            "[07:36:02] ~World Championship~\r\n"
            "[07:36:02] MOD: Somebody, Other\r\n"
            "[07:36:03] <itzMeijin> NA FANGAYS\r\n"
            "[07:36:03] <@^cheflethalbot> Quote #112\r\n"
            "[07:36:04] <TrueEbag>* waits for the ban\r\n"
            "[07:36:05] [Notification] Jedibrothers subscribed for 8 months in a row! [LUL]\r\n"
            "[07:36:06] BAN: someone (600s)\r\n"
            "-\r\n"
            "# Log closed: 2016-10-01 09:00:00 +0800\r\n")
    path = write(tmp_path, "riotgames1.log", text)
    fmt, messages, info = parse(path)
    assert fmt == "irc-client"
    assert [m.user for m in messages] == ["itzMeijin", "cheflethalbot", "TrueEbag", None]
    assert messages[0].ts == "2016-09-30T23:36:03.000Z"  # +0800 -> UTC
    assert messages[2].is_action and messages[2].text == "waits for the ban"
    assert messages[3].is_system
    assert info.channel == "riotgames" and info.unparsed == 0 and info.meta_lines == 7


def test_srt_and_ssa(tmp_path):
    srt = write(tmp_path, "123.srt",
                "1\n00:00:05,000 --> 00:00:07,000\nViewer_One: hello chat Kappa\n\n"
                "2\n00:01:05,500 --> 00:01:07,500\nViewer_Two: second\n\n")
    fmt, messages, _ = parse(srt)
    assert fmt == "tcd-srt"
    assert messages == [Message("Viewer_One", "hello chat Kappa", None, 5.0), Message("Viewer_Two", "second", None, 65.5)]
    ssa = write(tmp_path, "123.ssa",
                "[Script Info]\nTitle: chat\n\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, "
                "MarginV, Effect, Text\n"
                "Dialogue: Marked=0,0:00:05.43,0:00:07.43,Default,Viewer_One,0000,0000,0000,,"
                "{\\c&H0045FF&}Viewer_One {\\c&HFFFFFF&}hello, chat Kappa\n")
    fmt, messages, _ = parse(ssa)
    assert fmt == "tcd-ssa"
    assert messages == [Message("Viewer_One", "hello, chat Kappa", None, 5.43)]


def v5_comment(body: str | None, fragments: list, name="viewer_one", offset=5, action=False) -> dict:
    message = {"fragments": fragments, "is_action": action, "user_badges": [], "emoticons": []}
    if body is not None:
        message["body"] = body
    return {"_id": "x", "created_at": "2020-05-01T18:00:05.432Z", "content_offset_seconds": offset,
            "commenter": {"display_name": name.title(), "name": name, "_id": "1"}, "message": message}


def test_tcd_json_and_twitchdownloader_json_gzipped(tmp_path):
    fragments = [{"text": "hello chat "}, {"text": "Kappa", "emoticon": {"emoticon_id": "25"}}]
    tcd = {"comments": [v5_comment("hello chat Kappa", fragments)], "video": {"id": "612942303", "user_login": "Somestreamer"}}
    fmt, messages, info = parse(write(tmp_path, "612942303.json", json.dumps(tcd)))
    assert fmt == "tcd-json"
    assert messages == [Message("viewer_one", "hello chat Kappa", "2020-05-01T18:00:05.432Z", 5.0, ("Kappa",))]
    assert info.stream == "612942303" and info.channel == "somestreamer"
    td = {"FileInfo": {"Version": {"Major": 1}}, "streamer": {"name": "Some", "login": "somestreamer", "id": 1},
          "video": {"id": "612942303"}, "comments": [v5_comment(None, fragments, action=True)], "embeddedData": None}
    fmt, messages, _ = parse(write(tmp_path, "chat.json.gz", json.dumps(td), gz=True))
    assert fmt == "twitchdownloader-json"
    assert messages[0].text == "hello chat Kappa" and messages[0].is_action


def test_gql_with_body_and_with_only_fragments(tmp_path):
    newer = [{"id": "a", "commenter": {"id": "1", "login": "spookiejukes", "displayName": "spookiejukes"},
              "contentOffsetSeconds": 33, "createdAt": "2026-01-24T16:01:35.746Z",
              "message": {"fragments": [{"emote": None, "text": "awww "}, {"emote": {"emoteID": "25"}, "text": "Kappa"}],
                          "userBadges": [], "userColor": None}},
             {"id": "b", "commenter": None, "contentOffsetSeconds": 34, "createdAt": "2026-01-24T16:01:36Z",
              "message": {"fragments": [{"emote": None, "text": "deleted account"}]}}]
    fmt, messages, _ = parse(write(tmp_path, "2026-01-24_16-00-00_2650474598.json.gz", json.dumps(newer), gz=True))
    assert fmt == "gql"
    assert messages[0] == Message("spookiejukes", "awww Kappa", "2026-01-24T16:01:35.746Z", 33.0, ("Kappa",))
    assert messages[1].user is None and messages[1].ts == "2026-01-24T16:01:36.000Z"
    older = [{"id": "c", "createdAt": "2021-02-12T04:24:32.5580482Z", "contentId": "910716790",
              "contentOffsetSeconds": 10, "commenter": {"displayName": "type_speed", "login": "type_speed"},
              "message": {"body": "ooooh", "fragments": [{"text": "ooooh", "emote": {}}], "emoticons": []}}]
    fmt, messages, info = parse(write(tmp_path, "old.json", json.dumps(older)))
    assert fmt == "gql" and messages[0].text == "ooooh" and messages[0].emotes == ()
    assert messages[0].ts == "2021-02-12T04:24:32.558Z" and info.stream == "910716790"


def test_chat_downloader_json(tmp_path):
    items = [{"author": {"name": "viewer_one", "display_name": "Viewer_One", "id": "1"},
              "emotes": [{"id": "25", "name": "Kappa", "locations": "11-15"}], "message": "hello chat Kappa",
              "message_id": "m", "message_type": "text_message", "time_in_seconds": 5, "time_text": "0:05",
              "timestamp": 1588356005001000},
             {"author": {"name": "subber"}, "message": "subscribed!", "message_type": "subscription",
              "timestamp": 1588356006000000}]
    fmt, messages, _ = parse(write(tmp_path, "chat.json", json.dumps(items)))
    assert fmt == "chat-downloader"
    assert messages[0] == Message("viewer_one", "hello chat Kappa", "2020-05-01T18:00:05.001Z", 5.0, ("Kappa",))
    assert messages[1].is_system


def test_justlog_json(tmp_path):
    data = {"messages": [{"text": "Kappa hi", "username": "viewer_one", "displayName": "Viewer_One",
                          "channel": "somestreamer", "timestamp": "2020-05-01T18:00:05.1Z", "type": 1,
                          "tags": {"emotes": "25:0-4"}}]}
    fmt, messages, _ = parse(write(tmp_path, "logs.json", json.dumps(data)))
    assert fmt == "justlog-json"
    assert messages[0].emotes == ("Kappa",) and messages[0].user == "viewer_one"


def test_corpus_jsonl_and_plain_text(tmp_path):
    records = [{"text": "hello chat", "channel": "somestreamer", "stream": "2024-01-05", "ts": "2024-01-05T18:00:05Z",
                "id": "abc", "user": "hashhash"},
               {"text": "second day", "channel": "somestreamer", "stream": "2024-01-06", "ts": None}]
    fmt, messages, _ = parse(write(tmp_path, "2024-01-05.jsonl", "".join(json.dumps(r) + "\n" for r in records)))
    assert fmt == "corpus"
    assert messages[0].user == "hashhash"  # the salted hash, only for counting chatters
    assert messages[0].stream == "2024-01-05" and messages[0].channel == "somestreamer"
    assert messages[1].stream == "2024-01-06"
    fmt, messages, _ = parse(write(tmp_path, "lines.txt", "hello chat\n\nwhat a play\nKappa\n"))
    assert fmt == "plain"
    assert [m.text for m in messages] == ["hello chat", "what a play", "Kappa"]


def test_format_override_beats_detection(tmp_path):
    path = write(tmp_path, "odd.txt", "[0:00:05] <a> looks like tcd\n")
    assert parse(path, "plain")[1] == [Message(None, "[0:00:05] <a> looks like tcd")]
    with pytest.raises(ValueError, match="unknown format"):
        open_log(path, "nonsense")


def test_every_format_and_alias_is_offered_by_prepare_and_resolves(capsys):
    from trainer.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["prepare", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for name, spec in FORMATS.items():
        assert resolve_format(name.upper()) == name
        for alias in spec.aliases:
            assert resolve_format(alias) == name
        for offered in (name, *spec.aliases):
            assert offered in help_text.replace("- ", "-"), offered  # argparse wraps at hyphens


def test_detect_format_on_heads():
    assert detect_format("[0:00:04] <gentasdf> Pog\n[0:00:19] <vIsSx> poggies\n") == "tcd"
    assert detect_format("2021-06-01 19:46:13,577\tyobtih\tCOCK!!!\n") == "tsv"
    assert detect_format('[{"id": "x", "contentOffsetSeconds": 1}]') == "gql"


# ------------------------------------------------------------------ real lines from ../shared/data


@pytest.mark.shared_data
@pytest.mark.parametrize("folder, fmt, first_text", [
    ("sodapoppin-tcd", "tcd", None),
    ("fl0m-tsv", "tsv", None),
    ("irc-client-2016", "irc-client", None),
    ("rayrabenstein-gql", "gql", None),
    ("arypie-gql-2021", "gql", None),
])
def test_real_logs_detect_and_parse_cleanly(shared_data, folder, fmt, first_text):
    files = sorted((shared_data / folder).iterdir())
    smallest = min(files, key=lambda p: p.stat().st_size)
    fmt_found, messages, info = parse(smallest)
    assert fmt_found == fmt
    assert len(messages) > 10
    assert info.unparsed <= info.lines * 0.001
    assert all(isinstance(m.text, str) for m in messages)
    # Every line is a message, blank, or a counted logger line.
    if not fmt == "gql":
        assert info.lines == len(messages) + info.blank + info.meta_lines + info.unparsed


@pytest.mark.shared_data
def test_real_tcd_lines(shared_data):
    fmt, messages, _ = parse(shared_data / "sodapoppin-tcd" / "744492625.txt")
    assert messages[0] == Message("gentasdf", "Pog", None, 4.0)
    assert messages[1].text == "poggies selphyPog"


@pytest.mark.shared_data
def test_real_gql_fragments_mark_emotes(shared_data):
    path = sorted((shared_data / "rayrabenstein-gql").iterdir())[0]
    _, messages, _ = parse(path)
    assert any(m.emotes for m in messages)
    assert messages[0].ts.endswith("Z") and messages[0].offset is not None


def test_gql_responses_with_edges(tmp_path):
    node = {"id": "a", "commenter": {"login": "viewer_one"}, "contentOffsetSeconds": 5,
            "createdAt": "2026-01-24T16:01:35.746Z", "message": {"fragments": [{"emote": None, "text": "hi"}]}}
    page = [{"data": {"video": {"id": "2650474598", "comments": {"edges": [{"node": node, "cursor": "x"}]}}}}]
    fmt, messages, _ = parse(write(tmp_path, "page.json", json.dumps(page)))
    assert fmt == "gql" and messages[0].text == "hi" and messages[0].user == "viewer_one"


def test_raw_irc_with_several_channels_names_them_per_message(tmp_path):
    text = (":a!a@a.tmi.twitch.tv PRIVMSG #first :one\n"
            ":b!b@b.tmi.twitch.tv PRIVMSG #second :two\n"
            ":c!c@c.tmi.twitch.tv PRIVMSG #first :three\n")
    fmt, messages, info = parse(write(tmp_path, "multi.irc", text))
    assert fmt == "irc" and info.channel == "first"
    assert [m.channel for m in messages] == [None, "second", None]
