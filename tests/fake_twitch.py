"""A fake Twitch on 127.0.0.1 for the bot's tests and benchmark (aiohttp, no network).

It serves exactly what TwitchIO 3.3 talks to once its three endpoints are pointed here
(`Route.BASE`, `Route.ID_BASE`, `eventsub.websockets.WSS`, i.e. the bot's TWITCH_API_URL,
TWITCH_AUTH_URL and TWITCH_EVENTSUB_URL):

- OAuth: `POST /oauth2/token` (client_credentials, refresh_token, authorization_code),
  `GET /oauth2/validate`, `GET /oauth2/authorize` (answers at once with a code, as if the user
  had clicked "Authorize").
- Helix: `GET /helix/users` (?id= and ?login=), `POST/DELETE /helix/eventsub/subscriptions`,
  `POST /helix/chat/messages` (records every message; Twitch's own `msg_duplicate` rule; can be
  told to answer the next sends with a rejection, a 429 or a 5xx).
- EventSub websocket `/ws`: `session_welcome`, `session_keepalive` frames, notifications
  (`channel.chat.message` with badges, `channel.chat.message_delete`,
  `channel.chat.clear_user_messages`), `session_reconnect`, and abrupt drops. Like Twitch,
  it echoes the bot's own sent messages back as chat messages, and a dropped session's
  subscriptions are gone (a client must subscribe again), while a `session_reconnect` keeps them.

Tokens are opaque random strings; `revoke(token)` makes Helix answer 401 "Invalid OAuth token"
for it, which is how Twitch tells a client to refresh.

Use it inside a running event loop (`async with FakeTwitch() as fake:`), or from synchronous
code in a thread of its own (`FakeTwitch.in_thread()`, then `fake.call(coroutine_function, ...)`).
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

CLIENT_ID = "fakeclientid0123456789"
CLIENT_SECRET = "fakeclientsecret0123456789"


def _now_iso(offset: float = 0.0) -> str:
    now = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=offset)
    return now.isoformat().replace("+00:00", "Z")


@dataclass
class TokenInfo:
    user_id: str | None  # None: an app token
    scopes: list[str]
    refresh: str | None = None


@dataclass
class SentChat:
    """One `POST /helix/chat/messages` as the fake saw it."""

    at: float  # time.monotonic() on arrival
    broadcaster_id: str
    sender_id: str
    text: str
    reply_to: str | None
    token_kind: str  # "app" or "user"
    status: int  # HTTP status answered
    is_sent: bool
    message_id: str | None
    drop_code: str | None = None


@dataclass
class Delivery:
    """One chat notification the fake sent to the bot."""

    at: float
    message_id: str
    broadcaster_id: str
    chatter_id: str
    text: str
    sessions: int  # how many sessions it went to (0: nobody was subscribed)


@dataclass
class Session:
    id: str
    ws: web.WebSocketResponse
    keepalive: asyncio.Task | None = None
    closed: bool = False
    connected_at: str = field(default_factory=_now_iso)


class FakeTwitch:
    def __init__(self, *, keepalive_interval: float = 5.0, keepalive_timeout: int | None = None):
        self.client_id = CLIENT_ID
        self.client_secret = CLIENT_SECRET
        self.keepalive_interval = keepalive_interval
        self.keepalive_timeout = keepalive_timeout
        self.clock_offset = 0.0  # seconds Twitch's clock (notification timestamps) runs ahead of ours
        self.users: dict[str, dict] = {}
        self.tokens: dict[str, TokenInfo] = {}
        self.refresh_tokens: dict[str, str] = {}  # refresh -> user id
        self.codes: dict[str, tuple[str, list[str]]] = {}  # authorization code -> (user id, scopes)
        self.authorize_as: str | None = None  # user id that "clicks Authorize" on /oauth2/authorize
        self.grants: list[str] = []  # grant_type of every token request, in order
        self.sessions: dict[str, Session] = {}
        self.subscriptions: dict[str, dict] = {}
        self.sent: list[SentChat] = []
        self.deliveries: list[Delivery] = []
        self.moderator_in: set[str] = set()  # broadcaster ids where the bot account has a moderator badge
        self.send_failures: list[str | int] = []  # what the next sends answer: "duplicate", 429, 500, 503
        # Channels whose broadcaster never authorized channel:bot: posting as a Chat Bot (app token) is a 403.
        self.no_channel_bot: set[str] = set()
        self.unauthorized_requests = 0
        self._ids = itertools.count(10_000)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> FakeTwitch:
        app = web.Application()
        app.router.add_post("/oauth2/token", self._token)
        app.router.add_get("/oauth2/validate", self._validate)
        app.router.add_get("/oauth2/authorize", self._authorize)
        app.router.add_get("/helix/users", self._users)
        app.router.add_post("/helix/eventsub/subscriptions", self._subscribe)
        app.router.add_delete("/helix/eventsub/subscriptions", self._unsubscribe)
        app.router.add_post("/helix/chat/messages", self._chat_message)
        app.router.add_get("/ws", self._websocket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for session in list(self.sessions.values()):
            await self._close_session(session)
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTwitch:
        return await self.start()

    async def __aexit__(self, *_: Any) -> None:
        await self.stop()

    @classmethod
    def in_thread(cls, **kwargs: Any) -> FakeTwitch:
        """Start a fake on an event loop in a daemon thread; drive it with `call`; `close_thread` ends it."""
        fake = cls(**kwargs)
        ready = threading.Event()

        def run() -> None:
            fake._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(fake._loop)
            fake._loop.run_until_complete(fake.start())
            ready.set()
            fake._loop.run_forever()

        fake._thread = threading.Thread(target=run, name="fake-twitch", daemon=True)
        fake._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake Twitch did not start")
        return fake

    def call(self, function: Callable[..., Any], *args: Any, timeout: float = 30, **kwargs: Any) -> Any:
        """Run `function(*args)` on the fake's thread (awaited when it is a coroutine function)."""
        assert self._loop is not None, "call() is for a fake started with in_thread()"

        async def invoke() -> Any:
            result = function(*args, **kwargs)
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(invoke(), self._loop).result(timeout)

    def close_thread(self) -> None:
        if self._loop is None:
            return
        self.call(self.stop)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)

    # ---- what a test sets up -------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/helix/"

    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def eventsub_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def env(self) -> dict[str, str]:
        """The bot's endpoint and client settings for this fake."""
        return {
            "TWITCH_API_URL": self.api_url,
            "TWITCH_AUTH_URL": self.auth_url,
            "TWITCH_EVENTSUB_URL": self.eventsub_url,
            "TWITCH_CLIENT_ID": self.client_id,
            "TWITCH_CLIENT_SECRET": self.client_secret,
        }

    def add_user(self, login: str, user_id: str | None = None) -> str:
        user_id = user_id or str(next(self._ids))
        self.users[user_id] = {
            "id": user_id,
            "login": login.lower(),
            "display_name": login,
            "type": "",
            "broadcaster_type": "",
            "description": "",
            "profile_image_url": "https://static-cdn.jtvnw.net/user-default-pictures-uv/x-profile_image-300x300.png",
            "offline_image_url": "",
            "view_count": 0,
            "created_at": "2020-01-01T00:00:00Z",
        }
        return user_id

    def user_by_login(self, login: str) -> dict:
        for user in self.users.values():
            if user["login"] == login.lower():
                return user
        raise KeyError(login)

    def issue_user_token(self, user_id: str, scopes: Iterable[str]) -> tuple[str, str]:
        """A user access token and its refresh token, as `python -m bot login` would have saved."""
        token, refresh = secrets.token_hex(15), secrets.token_hex(25)
        self.tokens[token] = TokenInfo(user_id, list(scopes), refresh)
        self.refresh_tokens[refresh] = user_id
        return token, refresh

    def revoke(self, token: str) -> None:
        """The token stops working (as when it expires); its refresh token still works."""
        self.tokens.pop(token, None)

    def revoke_all(self, *, user_id: str | None = None, app: bool = False) -> None:
        for token, info in list(self.tokens.items()):
            if (app and info.user_id is None) or (user_id is not None and info.user_id == user_id):
                del self.tokens[token]

    def fail_next_sends(self, *answers: str | int) -> None:
        """The next sends answer, in order: "duplicate" (is_sent false), or an HTTP status (429, 500, 503)."""
        self.send_failures.extend(answers)

    def accepted(self, broadcaster_id: str | None = None) -> list[SentChat]:
        """The messages that reached chat (is_sent true)."""
        return [s for s in self.sent if s.is_sent and (broadcaster_id is None or s.broadcaster_id == broadcaster_id)]

    def subscribed(self, broadcaster_id: str, type_: str = "channel.chat.message") -> bool:
        return any(
            sub["type"] == type_ and sub["condition"].get("broadcaster_user_id") == broadcaster_id
            for sub in self.subscriptions.values()
        )

    # ---- chat events sent to the bot -----------------------------------------------------------

    async def chat(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        badges: Iterable[str] = (),
        message_id: str | None = None,
    ) -> str:
        """`user` (a login; created when new) says `text` in `channel`; returns the message id."""
        broadcaster = self.user_by_login(channel)
        try:
            chatter = self.user_by_login(user)
        except KeyError:
            chatter = self.users[self.add_user(user)]
        message_id = message_id or str(uuid.uuid4())
        event = self._chat_event(broadcaster, chatter, text, message_id, badges)
        await self._notify("channel.chat.message", broadcaster["id"], event, text=text, chatter_id=chatter["id"])
        return message_id

    async def delete_message(self, channel: str, user: str, message_id: str) -> None:
        """A moderator deleted one message."""
        broadcaster, target = self.user_by_login(channel), self.user_by_login(user)
        event = {**self._broadcaster_fields(broadcaster), **self._target_fields(target), "message_id": message_id}
        await self._notify("channel.chat.message_delete", broadcaster["id"], event)

    async def clear_user(self, channel: str, user: str) -> None:
        """A moderator banned or timed out `user`: all their messages are cleared."""
        broadcaster, target = self.user_by_login(channel), self.user_by_login(user)
        event = {**self._broadcaster_fields(broadcaster), **self._target_fields(target)}
        await self._notify("channel.chat.clear_user_messages", broadcaster["id"], event)

    async def drop_connections(self) -> int:
        """Cut every websocket without a goodbye (a network failure); their subscriptions are gone."""
        count = 0
        for session in list(self.sessions.values()):
            await self._close_session(session, abort=True)
            count += 1
        return count

    async def send_reconnect(self) -> int:
        """Ask every session to move to a new connection (Twitch's `session_reconnect`)."""
        count = 0
        for session in list(self.sessions.values()):
            url = f"{self.eventsub_url}?reconnect_from={session.id}"
            message = self._frame("session_reconnect", {"session": self._session_payload(session, reconnect_url=url)})
            await session.ws.send_str(message)
            count += 1
        return count

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 20, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"fake Twitch: timed out waiting for {what or predicate}")
            await asyncio.sleep(0.02)

    # ---- OAuth ---------------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        query = request.query
        grant = query.get("grant_type", "")
        self.grants.append(grant)
        if query.get("client_id") != self.client_id:
            return _error(400, "invalid client")
        if grant == "client_credentials":
            if query.get("client_secret") != self.client_secret:
                return _error(403, "invalid client secret")
            token = secrets.token_hex(15)
            self.tokens[token] = TokenInfo(None, [])
            return web.json_response({"access_token": token, "expires_in": 5_000_000, "token_type": "bearer"})
        if grant == "refresh_token":
            user_id = self.refresh_tokens.pop(query.get("refresh_token", ""), None)
            if user_id is None:
                return _error(400, "Invalid refresh token")
            scopes = next((t.scopes for t in self.tokens.values() if t.user_id == user_id), [])
            self.revoke_all(user_id=user_id)
            token, refresh = self.issue_user_token(user_id, scopes)
            return web.json_response(
                {"access_token": token, "refresh_token": refresh, "expires_in": 14_000, "scope": scopes,
                 "token_type": "bearer"}
            )
        if grant == "authorization_code":
            found = self.codes.pop(query.get("code", ""), None)
            if found is None:
                return _error(400, "Invalid authorization code")
            user_id, scopes = found
            token, refresh = self.issue_user_token(user_id, scopes)
            return web.json_response(
                {"access_token": token, "refresh_token": refresh, "expires_in": 14_000, "scope": scopes,
                 "token_type": "bearer"}
            )
        return _error(400, f"unsupported grant_type {grant!r}")

    async def _validate(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("OAuth ").removeprefix("Bearer ")
        info = self.tokens.get(token)
        if info is None:
            return _error(401, "invalid access token")
        data: dict[str, Any] = {"client_id": self.client_id, "scopes": info.scopes, "expires_in": 14_000}
        if info.user_id is not None:
            data.update(login=self.users[info.user_id]["login"], user_id=info.user_id)
        return web.json_response(data)

    async def _authorize(self, request: web.Request) -> web.Response:
        """The user's browser at Twitch's consent page; the fake "clicks Authorize" for `authorize_as`."""
        if self.authorize_as is None:
            return _error(400, "nobody is logged in at the fake Twitch (set authorize_as)")
        code = secrets.token_hex(10)
        self.codes[code] = (self.authorize_as, request.query.get("scope", "").replace("+", " ").split())
        redirect = request.query["redirect_uri"]
        raise web.HTTPFound(f"{redirect}?code={code}&scope={request.query.get('scope', '')}&state={request.query.get('state', '')}")

    def _bearer(self, request: web.Request) -> TokenInfo | None:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        info = self.tokens.get(token)
        if info is None or request.headers.get("Client-Id", request.headers.get("Client-ID")) != self.client_id:
            self.unauthorized_requests += 1
            return None
        return info

    # ---- Helix ---------------------------------------------------------------------------------

    async def _users(self, request: web.Request) -> web.Response:
        if self._bearer(request) is None:
            return _error(401, "Invalid OAuth token")
        ids = request.query.getall("id", [])
        logins = [login.lower() for login in request.query.getall("login", [])]
        data = [u for u in self.users.values() if u["id"] in ids or u["login"] in logins]
        return web.json_response({"data": data})

    async def _subscribe(self, request: web.Request) -> web.Response:
        info = self._bearer(request)
        if info is None:
            return _error(401, "Invalid OAuth token")
        if info.user_id is None:
            return _error(400, "websocket transports need a user access token")
        body = await request.json()
        session_id = body.get("transport", {}).get("session_id")
        session = self.sessions.get(session_id)
        if session is None or session.closed:
            return _error(400, "websocket session not found or not connected")
        for sub in self.subscriptions.values():
            if sub["type"] == body["type"] and sub["condition"] == body["condition"] and sub["session_id"] == session_id:
                return _error(409, f"subscription already exists id={sub['id']}")
        sub_id = str(uuid.uuid4())
        sub = {
            "id": sub_id,
            "status": "enabled",
            "type": body["type"],
            "version": body["version"],
            "condition": body["condition"],
            "created_at": _now_iso(),
            "transport": {"method": "websocket", "session_id": session_id, "connected_at": session.connected_at},
            "cost": 0,
            "session_id": session_id,
        }
        self.subscriptions[sub_id] = sub
        public = {k: v for k, v in sub.items() if k != "session_id"}
        return web.json_response(
            {"data": [public], "total": len(self.subscriptions), "total_cost": 0, "max_total_cost": 10},
            status=202,
        )

    async def _unsubscribe(self, request: web.Request) -> web.Response:
        if self._bearer(request) is None:
            return _error(401, "Invalid OAuth token")
        self.subscriptions.pop(request.query.get("id", ""), None)
        return web.Response(status=204)

    async def _chat_message(self, request: web.Request) -> web.Response:
        info = self._bearer(request)
        body = await request.json()
        record = SentChat(
            at=time.monotonic(),
            broadcaster_id=str(body.get("broadcaster_id")),
            sender_id=str(body.get("sender_id")),
            text=body.get("message", ""),
            reply_to=body.get("reply_parent_message_id"),
            token_kind="user" if info is not None and info.user_id else "app",
            status=200,
            is_sent=False,
            message_id=None,
        )
        self.sent.append(record)
        if info is None:
            record.status = 401
            return _error(401, "Invalid OAuth token")
        if record.token_kind == "app" and record.broadcaster_id in self.no_channel_bot:
            record.status = 403
            return _error(403, "The broadcaster has not authorized the app (channel:bot) and the sender is no moderator")
        if len(record.text) > 500:
            record.status = 400
            return _error(400, "message is too long")
        if self.send_failures:
            answer = self.send_failures.pop(0)
            if isinstance(answer, int):
                record.status = answer
                return _error(answer, "Too Many Requests" if answer == 429 else "Internal Server Error")
            return self._dropped(record, "msg_duplicate", "Your message is identical to the one you sent within the last 30 seconds.")
        # Twitch's rule: the same text as this sender's previous message in the channel within 30 s is dropped.
        previous = [s for s in self.accepted(record.broadcaster_id) if s.sender_id == record.sender_id]
        if previous and previous[-1].text == record.text and record.at - previous[-1].at < 30:
            return self._dropped(record, "msg_duplicate", "Your message is identical to the one you sent within the last 30 seconds.")
        record.is_sent = True
        record.message_id = str(uuid.uuid4())
        # Twitch echoes the bot's own message to every chat subscriber, badges included.
        broadcaster = self.users.get(record.broadcaster_id)
        sender = self.users.get(record.sender_id)
        if broadcaster and sender:
            badges = []
            if record.sender_id == record.broadcaster_id:
                badges.append("broadcaster")
            elif record.broadcaster_id in self.moderator_in:
                badges.append("moderator")
            event = self._chat_event(broadcaster, sender, record.text, record.message_id, badges)
            asyncio.get_running_loop().create_task(
                self._notify("channel.chat.message", broadcaster["id"], event, text=record.text, chatter_id=sender["id"])
            )
        return web.json_response({"data": [{"message_id": record.message_id, "is_sent": True, "drop_reason": None}]})

    @staticmethod
    def _dropped(record: SentChat, code: str, message: str) -> web.Response:
        record.drop_code = code
        return web.json_response(
            {"data": [{"message_id": "", "is_sent": False, "drop_reason": {"code": code, "message": message}}]}
        )

    # ---- EventSub websocket --------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        session = Session(id=f"session-{uuid.uuid4()}", ws=ws)
        self.sessions[session.id] = session
        moved_from = request.query.get("reconnect_from")
        if moved_from:
            # session_reconnect: the subscriptions move over to the new connection.
            for sub in self.subscriptions.values():
                if sub["session_id"] == moved_from:
                    sub["session_id"] = session.id
        timeout = self.keepalive_timeout or int(request.query.get("keepalive_timeout_seconds", "10"))
        welcome = self._session_payload(session, keepalive=timeout)
        await ws.send_str(self._frame("session_welcome", {"session": welcome}))
        session.keepalive = asyncio.get_running_loop().create_task(self._keepalives(session))
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    # Twitch closes the connection with 4001 when a client sends anything.
                    await ws.close(code=4001)
        finally:
            # After a session_reconnect the client closes the old connection itself.
            await self._close_session(session)
        return ws

    async def _keepalives(self, session: Session) -> None:
        while not session.ws.closed:
            await asyncio.sleep(self.keepalive_interval)
            try:
                await session.ws.send_str(self._frame("session_keepalive", {}))
            except Exception:
                return

    async def _close_session(self, session: Session, *, abort: bool = False) -> None:
        if session.closed:
            return
        session.closed = True
        self.sessions.pop(session.id, None)
        # Twitch disables a closed session's subscriptions (unless they moved with a reconnect).
        for sub_id, sub in list(self.subscriptions.items()):
            if sub["session_id"] == session.id:
                del self.subscriptions[sub_id]
        if session.keepalive:
            session.keepalive.cancel()
        if abort:
            transport = session.ws._req.transport if session.ws._req else None
            if transport:
                transport.abort()
        else:
            try:
                await session.ws.close()
            except Exception:
                pass

    async def _notify(self, type_: str, broadcaster_id: str, event: dict, *, text: str = "", chatter_id: str = "") -> None:
        targets = [
            (self.sessions.get(sub["session_id"]), sub)
            for sub in list(self.subscriptions.values())
            if sub["type"] == type_ and sub["condition"].get("broadcaster_user_id") == broadcaster_id
        ]
        sent = 0
        for session, sub in targets:
            if session is None or session.closed:
                continue
            public = {k: v for k, v in sub.items() if k != "session_id"}
            frame = self._frame("notification", {"subscription": public, "event": event}, subscription=sub)
            try:
                await session.ws.send_str(frame)
                sent += 1
            except Exception:
                pass
        if type_ == "channel.chat.message":
            self.deliveries.append(Delivery(time.monotonic(), event["message_id"], broadcaster_id, chatter_id, text, sent))

    def _session_payload(self, session: Session, *, keepalive: int | None = None, reconnect_url: str | None = None) -> dict:
        return {
            "id": session.id,
            "status": "reconnecting" if reconnect_url else "connected",
            "connected_at": session.connected_at,
            "keepalive_timeout_seconds": keepalive,
            "reconnect_url": reconnect_url,
            "recovery_url": None,
        }

    def _frame(self, message_type: str, payload: dict, *, subscription: dict | None = None) -> str:
        metadata = {"message_id": str(uuid.uuid4()), "message_type": message_type,
                    "message_timestamp": _now_iso(self.clock_offset)}
        if subscription is not None:
            metadata["subscription_type"] = subscription["type"]
            metadata["subscription_version"] = subscription["version"]
        return json.dumps({"metadata": metadata, "payload": payload})

    @staticmethod
    def _broadcaster_fields(user: dict) -> dict:
        return {
            "broadcaster_user_id": user["id"],
            "broadcaster_user_login": user["login"],
            "broadcaster_user_name": user["display_name"],
        }

    @staticmethod
    def _target_fields(user: dict) -> dict:
        return {"target_user_id": user["id"], "target_user_login": user["login"], "target_user_name": user["display_name"]}

    def _chat_event(self, broadcaster: dict, chatter: dict, text: str, message_id: str, badges: Iterable[str]) -> dict:
        badge_list = [{"set_id": b, "id": "1", "info": ""} for b in badges]
        if chatter["id"] == broadcaster["id"] and not any(b["set_id"] == "broadcaster" for b in badge_list):
            badge_list.append({"set_id": "broadcaster", "id": "1", "info": ""})
        return {
            **self._broadcaster_fields(broadcaster),
            "chatter_user_id": chatter["id"],
            "chatter_user_login": chatter["login"],
            "chatter_user_name": chatter["display_name"],
            "message_id": message_id,
            "message": {"text": text, "fragments": [{"type": "text", "text": text, "cheermote": None, "emote": None, "mention": None}]},
            "color": "#FF0000",
            "badges": badge_list,
            "message_type": "text",
            "cheer": None,
            "reply": None,
            "channel_points_custom_reward_id": None,
            "channel_points_animation_id": None,
            "source_broadcaster_user_id": None,
            "source_broadcaster_user_login": None,
            "source_broadcaster_user_name": None,
            "source_message_id": None,
            "source_badges": None,
            "is_source_only": None,
        }


def _error(status: int, message: str) -> web.Response:
    reason = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 409: "Conflict", 429: "Too Many Requests"}
    return web.json_response({"error": reason.get(status, "Error"), "status": status, "message": message}, status=status)


# ---- running the real bot against the fake ---------------------------------------------------

BOT_LOGIN = "streamchat_bot"
BOT_SCOPES = ("user:read:chat", "user:write:chat", "user:bot")


def bot_environment(fake: FakeTwitch, tmp_path, *, channels: Iterable[str] = ("streamer",), model: str = "unused",
                    **extra: str) -> dict[str, str]:
    """Users, a saved bot token and the bot's settings for a run against `fake` (fast test timings)."""
    from bot.tokens import write_tokens

    try:
        bot_id = fake.user_by_login(BOT_LOGIN)["id"]
    except KeyError:
        bot_id = fake.add_user(BOT_LOGIN)
    for channel in channels:
        try:
            fake.user_by_login(channel)
        except KeyError:
            fake.add_user(channel)
    token, refresh = fake.issue_user_token(bot_id, BOT_SCOPES)
    tokens_path = tmp_path / "tokens.json"
    write_tokens(tokens_path, {bot_id: {"user_id": bot_id, "token": token, "refresh": refresh, "last_validated": ""}})
    env = {
        **fake.env(),
        "TWITCH_BOT_ID": bot_id,
        "TWITCH_CHANNELS": ",".join(channels),
        "STREAMCHAT_MODEL": str(model),
        "STREAMCHAT_TOKENS": str(tokens_path),
        "STREAMCHAT_COLLECT_DIR": str(tmp_path / "collected"),
        "STREAMCHAT_COOLDOWN": "0",
        "STREAMCHAT_USER_COOLDOWN": "0",
        "STREAMCHAT_SEND_INTERVAL": "0.05",
        "STREAMCHAT_JOIN_MESSAGES": "0",
        "STREAMCHAT_JOIN_MINUTES": "0",
        "STREAMCHAT_QUEUE_SIZE": "10",
    }
    env.update(extra)
    return env


class RunningBot:
    """`async with RunningBot(env, generator) as bot:` — the real bot object, started in this loop."""

    def __init__(self, env: dict[str, str], generator, *, start_timeout: float = 20):
        from bot.config import load_settings

        self.settings = load_settings(env, dotenv=None)
        self.generator = generator
        self.start_timeout = start_timeout
        self.bot = None
        self.task: asyncio.Task | None = None

    async def __aenter__(self):
        from bot.cli import run_bot

        ready = asyncio.Event()

        def on_ready(bot) -> None:
            self.bot = bot
            ready.set()

        self.task = asyncio.get_running_loop().create_task(run_bot(self.settings, self.generator, on_ready=on_ready))
        waiter = asyncio.ensure_future(ready.wait())
        done, _ = await asyncio.wait({waiter, self.task}, timeout=self.start_timeout, return_when=asyncio.FIRST_COMPLETED)
        if self.task in done:
            waiter.cancel()
            self.task.result()  # raises the bot's start-up error
            raise RuntimeError("the bot stopped during start-up")
        if waiter not in done:
            raise TimeoutError("the bot did not start")
        return self.bot

    async def __aexit__(self, *_: Any) -> None:
        if self.bot is not None:
            await self.bot.close()
        if self.task is not None:
            await asyncio.wait_for(self.task, 20)
