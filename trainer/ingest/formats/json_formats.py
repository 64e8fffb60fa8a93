"""JSON chat logs: whole documents (tcd and TwitchDownloader JSON, Twitch GQL comments,
chat-downloader, justlog/rustlog `?json`), loaded one VOD at a time, and streamchat's own
corpus records (JSON Lines, read line by line).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

from trainer.ingest.formats.detect import Format, Head, Rule
from trainer.ingest.formats.reading import LogInfo, LogProblem, Message, emotes_from_tag, iso_utc, normalize_iso


def _message_text(message: dict) -> tuple[str, tuple[str, ...]]:
    """A comment's text (its `body`, else its fragments joined) and the emotes its fragments mark."""
    text, emotes = _fragments_text(message.get("fragments"))
    body = message.get("body")
    return (text if body is None else body), emotes


def _fragments_text(fragments) -> tuple[str, tuple[str, ...]]:
    texts = []
    emotes = []
    for fragment in fragments or ():
        if not isinstance(fragment, dict):
            continue
        text = fragment.get("text") or ""
        texts.append(text)
        if (fragment.get("emote") or fragment.get("emoticon")) and text.strip():
            emotes.append(text.strip())
    return "".join(texts), tuple(emotes)


def parse_v5_json(data, info: LogInfo) -> Iterator[Message]:
    """tcd `json` and TwitchDownloader JSON: {"comments": [v5 comment, ...], "video"/"streamer": ...}."""
    comments = data.get("comments") if isinstance(data, dict) else data
    if not isinstance(comments, list):
        raise LogProblem("JSON without a `comments` list; not a tcd/TwitchDownloader chat file")
    if isinstance(data, dict):
        streamer = data.get("streamer") or {}
        video = data.get("video") or {}
        login = (streamer.get("login") or streamer.get("name") or video.get("user_login")
                 or video.get("user_name") or (video.get("channel") or {}).get("name") if isinstance(video, dict) else None)
        if isinstance(login, str) and login:
            info.channel = login.lower()
        video_id = video.get("id") if isinstance(video, dict) else None
        if video_id:
            info.stream = str(video_id).lstrip("v")
    info.lines = len(comments)
    for number, comment in enumerate(comments, 1):
        try:
            message = comment["message"]
            text, emotes = _message_text(message)
            commenter = comment.get("commenter") or {}
            user = commenter.get("name") or commenter.get("display_name")
            offset = comment.get("content_offset_seconds")
            yield Message(
                user, text, normalize_iso(comment.get("created_at")),
                float(offset) if offset is not None else None, emotes, bool(message.get("is_action")),
            )
        except (KeyError, TypeError, AttributeError, ValueError):
            info.bad_line(number, json.dumps(comment)[:80])


def _gql_comments(data) -> list:
    """A VideoComment array, or the same inside GraphQL responses ({data: {video: {comments: {edges}}}})."""
    if isinstance(data, dict):
        data = [data]
    comments = []
    for item in data:
        if isinstance(item, dict) and "data" in item and "message" not in item:
            video = ((item.get("data") or {}).get("video") or {})
            edges = ((video.get("comments") or {}).get("edges") or [])
            comments.extend(edge.get("node") for edge in edges if isinstance(edge, dict))
        else:
            comments.append(item)
    return comments


def parse_gql(data, info: LogInfo) -> Iterator[Message]:
    """Twitch GQL `VideoComment` arrays; text from `message.body` or, newer, only `fragments`."""
    comments = _gql_comments(data)
    info.lines = len(comments)
    new = tuple.__new__
    for number, comment in enumerate(comments, 1):
        try:
            text, emotes = _message_text(comment["message"])
            commenter = comment.get("commenter") or {}
            user = commenter.get("login") or commenter.get("displayName")
            if info.stream is None and comment.get("contentId"):
                info.stream = str(comment["contentId"])
            offset = comment.get("contentOffsetSeconds")
            yield new(Message, (user, text, normalize_iso(comment.get("createdAt")),
                                float(offset) if offset is not None else None, emotes, False, False, None, None))
        except (KeyError, TypeError, AttributeError, ValueError):
            info.bad_line(number, json.dumps(comment)[:80])


def parse_chat_downloader(data, info: LogInfo) -> Iterator[Message]:
    """chat-downloader (xenova) JSON: a list of items with `message`, `author`, `emotes`, ..."""
    if not isinstance(data, list):
        raise LogProblem("chat-downloader JSON should be a list of messages")
    info.lines = len(data)
    for number, item in enumerate(data, 1):
        try:
            text = item.get("message")
            if text is None:
                info.meta_lines += 1
                continue
            author = item.get("author") or {}
            stamp = item.get("timestamp")
            ts = iso_utc(datetime.fromtimestamp(stamp / 1_000_000, timezone.utc)) if isinstance(stamp, int) else None
            emotes = tuple(e["name"] for e in item.get("emotes") or () if isinstance(e, dict) and e.get("name"))
            kind = item.get("message_type", "text_message")
            offset = item.get("time_in_seconds")
            yield Message(
                author.get("name") or author.get("display_name"), text, ts,
                float(offset) if isinstance(offset, (int, float)) else None, emotes,
                kind == "action_message" or bool(item.get("is_action")), kind not in ("text_message", "action_message"),
            )
        except (KeyError, TypeError, AttributeError, ValueError):
            info.bad_line(number, json.dumps(item)[:80])


def parse_justlog_json(data, info: LogInfo) -> Iterator[Message]:
    """justlog / rustlog `?json`: {"messages": [{"text", "username", "channel", "timestamp", "type", "tags"}]}."""
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, list):
        raise LogProblem("JSON without a `messages` list; not a justlog/rustlog file")
    info.lines = len(messages)
    for number, item in enumerate(messages, 1):
        try:
            text = item["text"]
            if info.channel is None and item.get("channel"):
                info.channel = str(item["channel"]).lower()
            tags = item.get("tags") or {}
            emotes = emotes_from_tag(tags["emotes"], text) if tags.get("emotes") else ()
            kind = item.get("type", 1)
            yield Message(
                item.get("username") or item.get("displayName"), text,
                normalize_iso(item.get("timestamp")), None, emotes, False, kind not in (1, None),
            )
        except (KeyError, TypeError, AttributeError, ValueError):
            info.bad_line(number, json.dumps(item)[:80])


def parse_corpus(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    """The corpus `.jsonl` that `prepare` writes and the bot collects (trainer.corpus.records)."""
    loads = json.loads
    number = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            info.blank += 1
            continue
        try:
            data = loads(line)
            text = data["text"]
            if not isinstance(text, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            info.bad_line(number, line)
            continue
        stream = data.get("stream")
        # `user` is the collector's salted hash, never a name: it only counts distinct chatters.
        yield Message(
            data.get("user"), text, normalize_iso(data.get("ts")), None, (), False, False,
            data.get("channel"), str(stream) if stream not in (None, "") else None,
        )
    info.lines = number


# ---------------------------------------------------------------- the formats and how each is recognised
# A document is recognised by the keys in its first characters. Objects and arrays are told
# apart first, so each family's rules only compete among themselves (lowest order first).


def _corpus_record(head: Head) -> bool:
    if not head.first.startswith("{"):
        return False
    try:
        record = json.loads(head.first)
    except ValueError:
        return False
    return isinstance(record, dict) and "text" in record


def _twitchdownloader_document(head: Head) -> bool:
    text, start = head.text, head.start
    return head.is_object and '"comments"' in text[:2_000_000] and (
        '"FileInfo"' in start or '"streamer"' in start or '"embeddedData"' in text)


def _gql_document(head: Head) -> bool:
    text, start = head.text, head.start
    if head.is_object:
        return ('"data"' in start and '"VideoComment' in text) or '"contentOffsetSeconds"' in start
    return head.is_array and ('"contentOffsetSeconds"' in start or '"VideoComment"' in start or '"edges"' in start)


CORPUS = Format(
    "corpus", "streamchat corpus records (.jsonl), as prepare writes and the bot collects", parse_corpus,
    aliases=("jsonl",), rules=(Rule(10, _corpus_record),),
)
TCD_JSON = Format(
    "tcd-json", "tcd JSON: {comments: [v5 comments], video}", parse_v5_json, is_json=True,
    rules=(Rule(22, lambda head: head.is_object and ('"comments"' in head.start or '"content_offset_seconds"' in head.start)),
           Rule(26, lambda head: head.is_array and '"content_offset_seconds"' in head.start)),
)
TWITCHDOWNLOADER_JSON = Format(
    "twitchdownloader-json", "TwitchDownloader JSON (v5 comments, FileInfo, streamer)", parse_v5_json, is_json=True,
    rules=(Rule(21, _twitchdownloader_document),),
)
GQL = Format(
    "gql", "Twitch GQL VideoComment arrays (message.body or fragments)", parse_gql, is_json=True,
    rules=(Rule(24, _gql_document), Rule(28, lambda head: head.text.startswith("[]"))),  # [] : no comments
)
CHAT_DOWNLOADER = Format(
    "chat-downloader", "chat-downloader JSON list", parse_chat_downloader, is_json=True,
    rules=(Rule(27, lambda head: head.is_array and any(
        key in head.start for key in ('"message_type"', '"time_in_seconds"', '"author"'))),),
)
JUSTLOG_JSON = Format(
    "justlog-json", "justlog/rustlog JSON: {messages: [...]}", parse_justlog_json, is_json=True,
    rules=(Rule(23, lambda head: head.is_object and '"messages"' in head.start),),
)
