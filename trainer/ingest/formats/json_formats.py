"""JSON chat logs: whole documents (tcd and TwitchDownloader JSON, Twitch GQL comments,
chat-downloader, justlog/rustlog `?json`), loaded one VOD at a time, and streamchat's own
corpus records (JSON Lines, read line by line).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from trainer.ingest.formats.detect import Format, Head, Rule
from trainer.ingest.formats.reading import LogInfo, LogProblem, Message, emotes_from_tag, epoch_iso, normalize_iso


def _message_text(message: dict) -> tuple[str, tuple[str, ...]]:
    """A comment's text (its `body`, else its fragments joined) and the emotes its fragments mark."""
    text, emotes = _fragments_text(message.get("fragments"))
    body = message.get("body")
    return _text(text if body is None else body), emotes


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


def _object(value) -> dict:
    """`value` when it is a JSON object, else an empty one (a document with an odd field still reads)."""
    return value if isinstance(value, dict) else {}


def _text(value) -> str:
    """A message's text; TypeError (a bad item, skipped and counted) when it isn't a string."""
    if not isinstance(value, str):
        raise TypeError(f"message text is {type(value).__name__}, not a string")
    return value


def _name(*values) -> str | None:
    """The first of a commenter's names that is a non-empty string."""
    return next((value for value in values if isinstance(value, str) and value), None)


def _float_or_none(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def v5_comments(data, info: LogInfo) -> list:
    """tcd `json` and TwitchDownloader JSON: {"comments": [v5 comment, ...], "video"/"streamer": ...}."""
    comments = data.get("comments") if isinstance(data, dict) else data
    if not isinstance(comments, list):
        raise LogProblem("JSON without a `comments` list; not a tcd/TwitchDownloader chat file")
    if isinstance(data, dict):
        streamer, video = _object(data.get("streamer")), _object(data.get("video"))
        login = (streamer.get("login") or streamer.get("name") or video.get("user_login")
                 or video.get("user_name") or _object(video.get("channel")).get("name"))
        if isinstance(login, str) and login:
            info.channel = login.lower()
        video_id = video.get("id")
        if isinstance(video_id, (str, int)) and video_id:
            info.stream = str(video_id).lstrip("v")
    return comments


def parse_v5_json(comments: Iterable, info: LogInfo) -> Iterator[Message]:
    for comment in comments:
        message = comment["message"]
        text, emotes = _message_text(message)
        commenter = _object(comment.get("commenter"))
        user = _name(commenter.get("name"), commenter.get("display_name"))
        yield Message(
            user, text, normalize_iso(comment.get("created_at")),
            _float_or_none(comment.get("content_offset_seconds")), emotes, bool(message.get("is_action")),
        )


def gql_comments(data, info: LogInfo) -> list:
    """A VideoComment array, or the same inside GraphQL responses ({data: {video: {comments: {edges}}}})."""
    if isinstance(data, dict):
        data = [data]
    comments = []
    for item in data:
        if isinstance(item, dict) and "data" in item and "message" not in item:
            video = _object(_object(item.get("data")).get("video"))
            edges = _object(video.get("comments")).get("edges")
            comments.extend(edge.get("node") for edge in edges or () if isinstance(edge, dict))
        else:
            comments.append(item)
    return comments


def parse_gql(comments: Iterable, info: LogInfo) -> Iterator[Message]:
    """Twitch GQL `VideoComment` arrays; text from `message.body` or, newer, only `fragments`."""
    new = tuple.__new__
    for comment in comments:
        text, emotes = _message_text(comment["message"])
        commenter = _object(comment.get("commenter"))
        user = _name(commenter.get("login"), commenter.get("displayName"))
        if info.stream is None and isinstance(comment.get("contentId"), (str, int)) and comment["contentId"]:
            info.stream = str(comment["contentId"])
        yield new(Message, (user, text, normalize_iso(comment.get("createdAt")),
                            _float_or_none(comment.get("contentOffsetSeconds")), emotes, False, False, None, None))


def chat_downloader_items(data, info: LogInfo) -> list:
    """chat-downloader (xenova) JSON: a list of items with `message`, `author`, `emotes`, ..."""
    if not isinstance(data, list):
        raise LogProblem("chat-downloader JSON should be a list of messages")
    return data


def parse_chat_downloader(items: Iterable, info: LogInfo) -> Iterator[Message]:
    for item in items:
        text = item.get("message")
        if text is None:
            info.meta_lines += 1
            continue
        author = _object(item.get("author"))
        stamp = item.get("timestamp")
        ts = epoch_iso(stamp, 1_000_000) if isinstance(stamp, int) else None
        emotes = tuple(e["name"] for e in item.get("emotes") or () if isinstance(e, dict) and _name(e.get("name")))
        kind = item.get("message_type", "text_message")
        yield Message(
            _name(author.get("name"), author.get("display_name")), _text(text), ts,
            _float_or_none(item.get("time_in_seconds")), emotes,
            kind == "action_message" or bool(item.get("is_action")), kind not in ("text_message", "action_message"),
        )


def justlog_messages(data, info: LogInfo) -> list:
    """justlog / rustlog `?json`: {"messages": [{"text", "username", "channel", "timestamp", "type", "tags"}]}."""
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, list):
        raise LogProblem("JSON without a `messages` list; not a justlog/rustlog file")
    return messages


def parse_justlog_json(items: Iterable, info: LogInfo) -> Iterator[Message]:
    for item in items:
        text = _text(item["text"])
        if info.channel is None and isinstance(item.get("channel"), str) and item["channel"]:
            info.channel = item["channel"].lower()
        tags = _object(item.get("tags"))
        emotes = emotes_from_tag(tags["emotes"], text) if isinstance(tags.get("emotes"), str) else ()
        kind = item.get("type", 1)
        yield Message(
            _name(item.get("username"), item.get("displayName")), text,
            normalize_iso(item.get("timestamp")), None, emotes, False, kind not in (1, None),
        )


def parse_corpus(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    """The corpus `.jsonl` that `prepare` writes and the bot collects (trainer.corpus.records)."""
    loads = json.loads
    for line in lines:
        if not line.strip():
            info.blank += 1
            continue
        try:
            data = loads(line)
            text = data["text"]
            channel, stream = data.get("channel"), data.get("stream")
            if not isinstance(text, str) or not isinstance(channel, (str, type(None))):
                raise TypeError
        except (ValueError, KeyError, TypeError, AttributeError):  # not a record: an unknown shape
            info.bad_line(info.lines, line)
            continue
        # `user` is the collector's salted hash, never a name: it only counts distinct chatters.
        yield Message(
            data.get("user"), text, normalize_iso(data.get("ts")), None, (), False, False,
            channel, str(stream) if stream not in (None, "") else None,
        )


# ---------------------------------------------------------------- the formats and how each is recognised
# A document is recognised by the keys in its first characters. Objects and arrays are told
# apart first, so each family's rules only compete among themselves (lowest order first).


def _corpus_record(head: Head) -> bool:
    if not head.first.startswith("{"):
        return False
    try:
        record = json.loads(head.first)
    except (ValueError, RecursionError):
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
    "tcd-json", "tcd JSON: {comments: [v5 comments], video}", parse_v5_json, is_json=True, items=v5_comments,
    rules=(Rule(22, lambda head: head.is_object and ('"comments"' in head.start or '"content_offset_seconds"' in head.start)),
           Rule(26, lambda head: head.is_array and '"content_offset_seconds"' in head.start)),
)
TWITCHDOWNLOADER_JSON = Format(
    "twitchdownloader-json", "TwitchDownloader JSON (v5 comments, FileInfo, streamer)", parse_v5_json, is_json=True,
    items=v5_comments,
    rules=(Rule(21, _twitchdownloader_document),),
)
GQL = Format(
    "gql", "Twitch GQL VideoComment arrays (message.body or fragments)", parse_gql, is_json=True, items=gql_comments,
    rules=(Rule(24, _gql_document), Rule(28, lambda head: head.text.startswith("[]"))),  # [] : no comments
)
CHAT_DOWNLOADER = Format(
    "chat-downloader", "chat-downloader JSON list", parse_chat_downloader, is_json=True,
    items=chat_downloader_items,
    rules=(Rule(27, lambda head: head.is_array and any(
        key in head.start for key in ('"message_type"', '"time_in_seconds"', '"author"'))),),
)
JUSTLOG_JSON = Format(
    "justlog-json", "justlog/rustlog JSON: {messages: [...]}", parse_justlog_json, is_json=True,
    items=justlog_messages,
    rules=(Rule(23, lambda head: head.is_object and '"messages"' in head.start),),
)
