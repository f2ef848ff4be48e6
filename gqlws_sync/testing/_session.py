"""One client connection of the reference server, speaking either subprotocol.

Rules:

- Everything here runs on the server's event loop thread; nothing may block it.
- ``Session.run`` is the reader: it handles one client message at a time, in arrival order, so
  the effects of a message (an ack, a close, an operation task) happen before the next one is
  read. Operations run in tasks of their own, so a slow one never stalls reading.
- Every outgoing frame goes through ``_send`` (protocol messages) or ``_send_result``
  (operation results), which wait while ``Faults.hang`` is set, and for results while
  ``Faults.send_results`` is cleared. ``send_raw`` is the one way around both: tests ask for it.
- Only the ``finally`` of ``Session.run`` tears down: it cancels timers and operations, records
  the disconnect and leaves the registry.
- Faults are read when the event they govern happens; ``ServerState.fire`` wakes every timer
  and gate when a test changes one.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    execute,
    get_operation_ast,
    parse,
    subscribe,
    validate,
)
from graphql.language import DocumentNode
from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from ._faults import APOLLO, GTW, Faults, RawFrame, TextBytes
from ._log import Disconnect, MessageLog
from ._schema import BURST_FILLER, burst_source

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

__all__ = ["ServerState", "Session", "dialect_for", "encode"]

log = logging.getLogger("gqlws_sync.testing")

#: RFC 6455 §5.5: a close reason has at most 123 bytes.
_MAX_REASON_BYTES = 123
#: Burst frames go out in runs this long: one write, then one yield to the event loop.
_BURST_RUN = 64
#: subscriptions-transport-ws waits this long between ``connection_error`` and its close.
_APOLLO_REFUSAL_CLOSE_DELAY = 0.01


def encode(message: Mapping[str, Any]) -> str:
    """Serialise a protocol message compactly, the way JavaScript servers do."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def _truncate_reason(reason: str) -> str:
    data = reason.encode()[:_MAX_REASON_BYTES]
    return data.decode(errors="ignore")


def dialect_for(picked: str | None, faults: Faults) -> tuple[str | None, int]:
    """Decide which protocol a new connection speaks, and how to refuse it otherwise.

    Returns:
        The protocol to speak (None: refuse on the first message) and the refusal close code:
        1002 for an APOLLO-only server (subscriptions-transport-ws), 4406 otherwise.
    """
    refusal = 1002 if tuple(faults.protocols) == (APOLLO,) else 4406
    if picked in (GTW, APOLLO) and picked in faults.protocols:
        return picked, refusal
    if picked is None and faults.fallback_protocol in (GTW, APOLLO):
        return faults.fallback_protocol, refusal
    return None, refusal


class ServerState:
    """What every session of one server shares; lives on the server's event loop."""

    def __init__(
        self,
        schema: GraphQLSchema,
        faults: Faults,
        received: MessageLog[dict[str, Any]],
        disconnects: MessageLog[Disconnect],
        close_timeout: float,
    ) -> None:
        self.schema = schema
        self.faults = faults
        self.received = received
        self.disconnects = disconnects
        self.close_timeout = close_timeout
        self.sessions: set[Session] = set()
        self.stopping = False
        self._changed = asyncio.Event()

    def fire(self) -> None:
        """Wake every task waiting for a fault to change (or for the server to stop)."""
        self._changed.set()
        self._changed = asyncio.Event()

    def awake(self) -> bool:
        """Whether the server may talk; stopping always wins so shutdown cannot hang."""
        return self.stopping or not self.faults.hang

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds; it is re-checked whenever a fault changes."""
        while not predicate():
            await self._changed.wait()

    async def changed(self, timeout: float | None) -> bool:
        """Sleep for ``timeout`` seconds; return True early if a fault changed meanwhile."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True


class _Refused(Exception):
    """A request error: the operation cannot run at all (parse, validation, selection)."""

    def __init__(self, errors: list[GraphQLError], *, validation: bool = False) -> None:
        super().__init__(errors[0].message)
        self.errors = errors
        self.validation = validation


class Session:
    """The server side of one WebSocket connection."""

    def __init__(
        self,
        state: ServerState,
        ws: ServerConnection,
        dialect: str | None,
        refusal: int,
        headers: dict[str, str],
    ) -> None:
        self.state = state
        self.ws = ws
        self.dialect = dialect
        self.refusal = refusal
        self.headers = headers
        self.init_payload: dict[str, Any] = {}
        self.message_seen = False
        self.init_received = False
        self.acked = False
        self.closing = False
        self.ka_started = False
        self.ops: dict[str, asyncio.Task[None]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.serial = asyncio.Lock()
        self.finished = asyncio.Event()

    @property
    def faults(self) -> Faults:
        return self.state.faults

    # Life cycle

    async def run(self) -> None:
        """Serve the connection until it closes; the websockets handler awaits this."""
        self.state.sessions.add(self)
        if self.faults.hang:
            self.pause_reading()
        if self.dialect != APOLLO:
            self.spawn(self._init_deadline(), "init-deadline")
        if self.dialect == GTW:
            self.spawn(self._ping_loop(), "ping")
        self.spawn(self._websocket_ping_loop(), "websocket-ping")
        try:
            while True:
                # While hung, leave frames unread: websockets then cannot answer Pings either.
                await self.state.until(self.state.awake)
                try:
                    message = await self.ws.recv()
                except ConnectionClosed:
                    break
                if self.faults.hang and not self.state.stopping:
                    # Reading a queued message may have let websockets resume reading.
                    self.pause_reading()
                try:
                    await self._handle(message)
                except ConnectionClosed:
                    # A reply could not go out, but messages the client sent before its
                    # Close are still queued: read (and record) them until recv() says so.
                    continue
        finally:
            self.state.sessions.discard(self)
            await self._teardown()

    async def _teardown(self) -> None:
        pending = [*self.ops.values(), *self.tasks]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=self.state.close_timeout)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.ws.wait_closed(), self.state.close_timeout)
        rcvd, sent = self.ws.protocol.close_rcvd, self.ws.protocol.close_sent
        self.state.disconnects.append(
            Disconnect(
                subprotocol=self.dialect,
                client_code=None if rcvd is None else rcvd.code,
                client_reason="" if rcvd is None else rcvd.reason,
                server_code=None if sent is None else sent.code,
                server_reason="" if sent is None else sent.reason,
            )
        )
        self.finished.set()

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run a helper task that dies with the connection."""
        task = asyncio.get_running_loop().create_task(coro, name=f"gqlws_sync-{name}")
        self.tasks.add(task)
        task.add_done_callback(self._helper_done)
        return task

    def _helper_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and not isinstance(exc, ConnectionClosed):
            log.error("task %s failed", task.get_name(), exc_info=exc)

    def pause_reading(self) -> None:
        self.ws.transport.pause_reading()

    def resume_reading(self) -> None:
        self.ws.transport.resume_reading()

    def abort(self) -> None:
        """Drop the TCP connection without a close frame."""
        self.closing = True
        self.ws.transport.abort()

    async def close(self, code: int, reason: str = "") -> None:
        """Send a close frame, then wait (at most ``close_timeout``) for the client's.

        Code 1005 sends a Close frame without a body, as subscriptions-transport-ws does after
        ``connection_terminate``; websockets reads ``None`` as "no code".
        """
        self.closing = True
        if code == 1005:
            await self.ws.close(None, "")  # type: ignore[arg-type]  # no body; see above
            return
        await self.ws.close(code, _truncate_reason(reason))

    # Sending

    async def _send(self, message: Mapping[str, Any]) -> None:
        await self.state.until(self.state.awake)
        await self.ws.send(encode(message))

    def _results_flow(self) -> bool:
        return self.state.stopping or (self.faults.send_results and not self.faults.hang)

    async def _send_result(self, message: Mapping[str, Any]) -> None:
        await self.state.until(self._results_flow)
        await self.ws.send(encode(message))

    async def send_raw(self, frame: RawFrame, op_id: str | None = None) -> None:
        """Send a frame exactly as given: ``str`` as text, ``bytes`` as binary.

        ``TextBytes`` goes out as a text frame without any UTF-8 check; ``{id}`` in a ``str``
        becomes ``op_id`` when one is given.
        """
        if isinstance(frame, str):
            text = frame if op_id is None else frame.replace("{id}", op_id)
            await self.ws.send(text)
        elif isinstance(frame, TextBytes):
            await _send_text_bytes(self.ws, bytes(frame))
        else:
            await self.ws.send(bytes(frame))

    # Timers

    async def _init_deadline(self) -> None:
        timeout = self.faults.init_timeout
        if timeout is None:
            return
        await asyncio.sleep(timeout)
        await self.state.until(self.state.awake)
        if self.closing:
            return
        if self.dialect is None and not self.message_seen:
            await self.close(self.refusal, "subprotocol not acceptable")
        elif self.dialect == GTW and not self.init_received:
            await self.close(4408, "connection initialisation timeout")

    async def _ping_loop(self) -> None:
        while True:
            interval = self.faults.server_ping_interval
            if interval is None:
                await self.state.changed(None)
                continue
            if await self.state.changed(interval):
                continue
            if self.faults.server_ping_interval is not None:
                await self._send({"type": "ping"})

    async def _keep_alive_loop(self) -> None:
        while True:
            interval = self.faults.keep_alive_interval
            if interval is None:
                await self.state.changed(None)
                continue
            if await self.state.changed(interval):
                continue
            if self.faults.keep_alive_interval is not None:
                await self._send({"type": "ka"})

    async def _websocket_ping_loop(self) -> None:
        while True:
            interval = self.faults.websocket_ping_interval
            if interval is None:
                await self.state.changed(None)
                continue
            if await self.state.changed(interval):
                continue
            await self.state.until(self.state.awake)
            waiter = asyncio.ensure_future(await self.ws.ping())
            # Mark a failure as seen: nobody awaits the waiter once the connection is gone.
            waiter.add_done_callback(_consume)
            while True:
                try:
                    await asyncio.wait_for(asyncio.shield(waiter), interval)
                    break
                except asyncio.TimeoutError:
                    if self.state.awake():
                        await self.close(1011, "keepalive ping timeout")
                        return
                    # A hung server has stopped reading, so the Pong may be sitting unread.
                    await self.state.until(self.state.awake)

    # Receiving

    async def _handle(self, message: str | bytes) -> None:
        if self.closing:
            return
        self.message_seen = True
        if self.dialect is None:
            await self.close(self.refusal, "subprotocol not acceptable")
        elif self.dialect == GTW:
            await self._handle_gtw(message)
        else:
            await self._handle_apollo(message)

    def _decode(self, message: str | bytes) -> dict[str, Any] | str:
        """Return the message as a dict, or why it is not one."""
        if isinstance(message, bytes):
            return "binary frames are not allowed"
        try:
            value = json.loads(message)
        except ValueError:
            return "message is not valid JSON"
        if not isinstance(value, dict):
            return "message is not a JSON object"
        self.state.received.append(value)
        if not isinstance(value.get("type"), str):
            return "message has no type"
        return value

    async def _handle_gtw(self, message: str | bytes) -> None:
        decoded = self._decode(message)
        if isinstance(decoded, str):
            await self.close(4400, decoded)
            return
        kind = decoded["type"]
        payload = decoded.get("payload")
        if kind in ("connection_init", "ping", "pong") and not isinstance(payload, dict | None):
            await self.close(4400, f"invalid {kind} payload")
        elif kind == "connection_init":
            if self.init_received:
                await self.close(4429, "too many initialisation requests")
                return
            self.init_received = True
            self.init_payload = payload or {}
            await self._on_init()
        elif kind == "ping":
            if self.faults.answer_pings:
                pong: dict[str, Any] = {"type": "pong"}
                if payload is not None:
                    pong["payload"] = payload
                await self._send(pong)
        elif kind == "pong":
            pass
        elif kind == "subscribe":
            op_id = decoded.get("id")
            problem = _check_operation(op_id, payload, strict=True)
            if problem is not None:
                await self.close(4400, problem)
            elif not self.acked:
                await self.close(4401, "unauthorized")
            elif op_id in self.ops:
                await self.close(4409, f"subscriber for {op_id} already exists")
            else:
                assert isinstance(op_id, str)
                assert isinstance(payload, dict)
                await self._on_subscribe(op_id, payload)
        elif kind == "complete":
            op_id = decoded.get("id")
            if not isinstance(op_id, str) or not op_id:
                await self.close(4400, "complete without an id")
                return
            # Cancelling is enough: the task is not running now, and when it next runs it
            # raises CancelledError before sending anything else.
            task = self.ops.pop(op_id, None)
            if task is not None:
                task.cancel()
        elif kind in ("next", "error", "connection_ack"):
            await self.close(4400, f"a client cannot send {kind}")
        else:
            await self.close(4400, f"unknown message type {kind!r}")

    async def _handle_apollo(self, message: str | bytes) -> None:
        # subscriptions-transport-ws reports bad input and carries on; it never closes for it.
        decoded = self._decode(message)
        if isinstance(decoded, str):
            await self._send({"type": "connection_error", "payload": {"message": decoded}})
            return
        kind = decoded["type"]
        op_id = decoded.get("id")
        payload = decoded.get("payload")
        if kind == "connection_init":
            self.init_received = True
            self.init_payload = payload if isinstance(payload, dict) else {}
            await self._on_init()
        elif kind == "start":
            problem = _check_operation(op_id, payload, strict=False)
            if problem is not None:
                error: dict[str, Any] = {"type": "error", "payload": {"message": problem}}
                if isinstance(op_id, str):
                    error["id"] = op_id
                await self._send(error)
                return
            assert isinstance(op_id, str)
            assert isinstance(payload, dict)
            # A live id is replaced: the old operation stops without a complete.
            old = self.ops.pop(op_id, None)
            if old is not None:
                old.cancel()
            await self._on_subscribe(op_id, payload)
        elif kind == "stop":
            task = self.ops.pop(op_id, None) if isinstance(op_id, str) else None
            if task is not None:
                task.cancel()
                # Wait for it to unwind, so no data can follow the complete below.
                await asyncio.wait([task])
                await self._send_result({"type": "complete", "id": op_id})
        elif kind == "connection_terminate":
            await self.close(1000)
        else:
            error = {"type": "error", "payload": {"message": f"unknown message type {kind!r}"}}
            if isinstance(op_id, str):
                error["id"] = op_id
            await self._send(error)

    async def _on_init(self) -> None:
        faults = self.faults
        if faults.close_on_init is not None:
            await self.close(*faults.close_on_init)
        elif faults.init_error is not None:
            if self.dialect == GTW:
                await self.close(4403, faults.init_error)
            else:
                await self._send(
                    {"type": "connection_error", "payload": {"message": faults.init_error}}
                )
                await asyncio.sleep(_APOLLO_REFUSAL_CLOSE_DELAY)
                await self.close(1011, "connection_init refused")
        elif not faults.send_ack:
            pass
        elif faults.ack_delay > 0:
            self.spawn(self._ack_later(faults.ack_delay), "ack")
        else:
            await self._ack()

    async def _ack_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._ack()

    async def _ack(self) -> None:
        faults = self.faults
        ack: dict[str, Any] = {"type": "connection_ack"}
        if faults.ack_payload is not None:
            ack["payload"] = faults.ack_payload
        # Acknowledged from here on: the client cannot subscribe before reading the ack anyway.
        self.acked = True
        await self._send(ack)
        if self.dialect == APOLLO and not self.ka_started:
            self.ka_started = True
            if faults.keep_alive_interval is not None:
                await self._send({"type": "ka"})
            self.spawn(self._keep_alive_loop(), "keep-alive")
        for frame in list(faults.raw_after_ack):
            await self.send_raw(frame)

    async def _on_subscribe(self, op_id: str, payload: dict[str, Any]) -> None:
        faults = self.faults
        if faults.close_on_subscribe is not None:
            await self.close(*faults.close_on_subscribe)
            return
        if faults.drop_on_subscribe:
            self.abort()
            return
        for frame in list(faults.raw_on_subscribe):
            await self.send_raw(frame, op_id)
        task = asyncio.get_running_loop().create_task(
            self._operation(op_id, payload), name=f"gqlws_sync-operation-{op_id}"
        )
        self.ops[op_id] = task

    # Operations

    async def _operation(self, op_id: str, payload: dict[str, Any]) -> None:
        try:
            if self.faults.serial_operations:
                async with self.serial:
                    await self._execute(op_id, payload)
            else:
                await self._execute(op_id, payload)
        except ConnectionClosed:
            pass
        except _Refused as refused:
            with contextlib.suppress(ConnectionClosed):
                await self._refuse(op_id, refused)
        except Exception as exc:
            log.exception("operation %s failed inside the reference server", op_id)
            error = GraphQLError(f"internal server error: {exc}")
            with contextlib.suppress(ConnectionClosed):
                await self._refuse(op_id, _Refused([error]))
        finally:
            if self.ops.get(op_id) is asyncio.current_task():
                del self.ops[op_id]

    async def _refuse(self, op_id: str, refused: _Refused) -> None:
        if self.dialect == GTW:
            errors = [error.formatted for error in refused.errors]
            await self._send_result({"type": "error", "id": op_id, "payload": errors})
        elif refused.validation:
            # subscriptions-transport-ws answers validation errors as a result, then completes.
            errors = [error.formatted for error in refused.errors]
            await self._send_result({"type": "data", "id": op_id, "payload": {"errors": errors}})
            await self._send_result({"type": "complete", "id": op_id})
        else:
            message = {"message": refused.errors[0].message}
            await self._send_result({"type": "error", "id": op_id, "payload": message})

    async def _execute(self, op_id: str, payload: dict[str, Any]) -> None:
        schema = self.state.schema
        try:
            document = parse(payload["query"])
        except GraphQLError as exc:
            raise _Refused([exc]) from exc
        errors = validate(schema, document)
        if errors:
            raise _Refused(errors, validation=True)
        name = payload.get("operationName")
        operation = get_operation_ast(document, name)
        if operation is None:
            message = (
                f"unknown operation named {name!r}"
                if name
                else "the document has several operations: name one with operationName"
            )
            raise _Refused([GraphQLError(message)])
        variables: dict[str, Any] = payload.get("variables") or {}
        context = {
            "headers": self.headers,
            "init_payload": self.init_payload,
            "subprotocol": self.dialect,
        }
        if operation.operation is OperationType.SUBSCRIPTION:
            plan = _burst_plan(schema, document, operation, variables)
            if plan is not None:
                await self._burst(op_id, *plan)
            else:
                await self._stream(op_id, document, operation, context, variables)
            return
        if self.dialect == APOLLO and not self.faults.apollo_queries:
            raise _Refused([GraphQLError("only subscriptions are allowed over graphql-ws")])
        result = execute(
            schema, document, context_value=context, variable_values=variables, operation_name=name
        )
        if inspect.isawaitable(result):
            result = await result
        await self._send_result(self._result_message(op_id, result))
        if self.faults.send_query_complete:
            await self._send_result({"type": "complete", "id": op_id})

    def _result_message(self, op_id: str, result: ExecutionResult) -> dict[str, Any]:
        kind = "next" if self.dialect == GTW else "data"
        return {"type": kind, "id": op_id, "payload": result.formatted}

    async def _stream(
        self,
        op_id: str,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        context: dict[str, Any],
        variables: dict[str, Any],
    ) -> None:
        name = operation.name.value if operation.name else None
        created = subscribe(
            self.state.schema,
            document,
            context_value=context,
            variable_values=variables,
            operation_name=name,
        )
        if inspect.isawaitable(created):
            created = await created
        if isinstance(created, ExecutionResult):
            # The source could not be created (bad variables, the resolver raised).
            await self._send_result(self._result_message(op_id, created))
            await self._send_result({"type": "complete", "id": op_id})
            return
        stream = created
        try:
            while True:
                try:
                    item = await anext(stream)
                except StopAsyncIteration:
                    break
                except Exception as exc:
                    await self._source_failed(op_id, operation, exc)
                    return
                await self._send_result(self._result_message(op_id, item))
        finally:
            aclose: Callable[[], Awaitable[None]] | None = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        await self._send_result({"type": "complete", "id": op_id})

    async def _source_failed(
        self, op_id: str, operation: OperationDefinitionNode, exc: Exception
    ) -> None:
        """Report a subscription source that raised after the stream started."""
        path: list[str | int] | None = None
        first = operation.selection_set.selections[0]
        if isinstance(first, FieldNode):
            path = [(first.alias or first.name).value]
        error = GraphQLError(str(exc), path=path, original_error=exc).formatted
        if self.dialect == GTW and self.faults.source_error == "error":
            await self._send_result({"type": "error", "id": op_id, "payload": [error]})
            return
        result = {"data": None, "errors": [error]}
        kind = "next" if self.dialect == GTW else "data"
        await self._send_result({"type": kind, "id": op_id, "payload": result})
        await self._send_result({"type": "complete", "id": op_id})

    async def _burst(self, op_id: str, key: str, count: int, size: int) -> None:
        """Send ``burst`` events without graphql-core: one prebuilt frame, sent ``count`` times.

        websockets serialises the frame once; runs of copies then go to the transport in one
        write each. That is safe because nothing else frames data on this connection (no
        compression, no fragmented sends) and the state is checked before every write, so no
        data can follow a close frame. Flow control still applies through ``drain()``.
        """
        kind = "next" if self.dialect == GTW else "data"
        message = encode(
            {"type": kind, "id": op_id, "payload": {"data": {key: BURST_FILLER * size}}}
        )
        data = message.encode()
        ws = self.ws
        wire = None if ws.protocol.extensions else Frame(Opcode.TEXT, data).serialize(mask=False)
        sent = 0
        while sent < count:
            if not self._results_flow():
                await self.state.until(self._results_flow)
            run = min(_BURST_RUN, count - sent)
            if wire is not None and ws.protocol.state is State.OPEN:
                ws.transport.write(wire * run)
                await ws.drain()
            else:
                # Closing (send() raises ConnectionClosed) or an extension is active.
                for _ in range(run):
                    await ws.send(message)
            sent += run
            # Let the client's complete / stop, and other connections, be served meanwhile.
            await asyncio.sleep(0)
        await self._send_result({"type": "complete", "id": op_id})


#: websockets 14 added ``send(..., text=True)``; the declared minimum, 13, lacks it.
_SEND_HAS_TEXT = "text" in inspect.signature(Connection.send).parameters


async def _send_text_bytes(ws: ServerConnection, data: bytes) -> None:
    """Send bytes in a text frame as they are, valid UTF-8 or not."""
    if _SEND_HAS_TEXT:
        await ws.send(data, text=True)
    else:  # pragma: no cover - websockets < 14
        async with ws.send_context():
            ws.protocol.send_text(data)


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _check_operation(op_id: Any, payload: Any, *, strict: bool) -> str | None:
    """Say what is wrong with a subscribe/start message, or None when nothing is.

    ``strict`` adds the GTW rules on the optional fields; APOLLO servers never checked them.
    """
    if not isinstance(op_id, str) or not op_id:
        return "operation id must be a non-empty string"
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return "operation payload must be an object with a query string"
    if strict:
        if not isinstance(payload.get("variables"), dict | None):
            return "variables must be an object or null"
        if not isinstance(payload.get("operationName"), str | None):
            return "operationName must be a string or null"
        if not isinstance(payload.get("extensions"), dict | None):
            return "extensions must be an object or null"
    elif not isinstance(payload.get("variables"), dict | None) or not isinstance(
        payload.get("operationName"), str | None
    ):
        return "variables must be an object and operationName a string"
    return None


def _burst_plan(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any],
) -> tuple[str, int, int] | None:
    """Recognise ``subscription { burst(count: N, size: S) }`` on the demo schema.

    Returns:
        ``(response key, count, size)`` when the fast path gives exactly what graphql-core
        would, else None. Anything unusual (fragments, directives, other fields, a schema
        whose ``burst`` is not the demo's) takes the normal path.
    """
    subscription_type = schema.subscription_type
    field = None if subscription_type is None else subscription_type.fields.get("burst")
    if field is None or field.subscribe is not burst_source:
        return None
    if len(document.definitions) != 1 or operation.directives:
        return None
    selections = operation.selection_set.selections
    if len(selections) != 1:
        return None
    node = selections[0]
    if (
        not isinstance(node, FieldNode)
        or node.name.value != "burst"
        or node.directives
        or node.selection_set
    ):
        return None
    defaults = {
        definition.variable.name.value: definition.default_value
        for definition in operation.variable_definitions or ()
    }
    arguments: dict[str, Any] = {}
    for argument in node.arguments or ():
        value = argument.value
        if isinstance(value, IntValueNode):
            number: Any = int(value.value)
        elif isinstance(value, VariableNode):
            variable = value.name.value
            default = defaults.get(variable)
            if variable in variables:
                number = variables[variable]
            elif isinstance(default, IntValueNode):
                number = int(default.value)
            else:
                return None
        else:
            return None
        if type(number) is not int or number < 0:
            return None
        arguments[argument.name.value] = number
    if set(arguments) != {"count", "size"}:
        return None
    key = (node.alias or node.name).value
    return key, arguments["count"], arguments["size"]
