"""Local terminal chat: the same router as Slack and Discord, on platform ``console``.

Commands: ``/good`` and ``/bad`` rate the last answer, ``/new`` starts a new conversation,
``/quit`` (or end of input) leaves.
"""

from __future__ import annotations

import getpass
import threading
import uuid
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape

from bot.adapters.render import source_lines
from bot.core.lifecycle import Lifecycle
from bot.core.limits import AnswerPool
from bot.core.router import Router
from bot.core.types import IncomingMessage, ReactionEvent, Reply

PLATFORM = "console"
HELP = "Ask a question. /good or /bad rates the last answer, /new starts over, /quit leaves."


class ConsoleChat:
    def __init__(self, router: Router, console: Console | None = None,
                 read: Callable[[str], str] = input, user: str | None = None,
                 pool: AnswerPool | None = None) -> None:
        self.router, self.read = router, read
        self.lifecycle = Lifecycle(router, pool or AnswerPool(workers=1, max_pending=1))
        self.console = console or Console(highlight=False)
        self.user = user or getpass.getuser()
        self.thread = uuid.uuid4().hex[:12]
        self.last_answer: int | None = None

    def run(self) -> None:
        self.console.print(f"[dim]{HELP}[/dim]")
        while True:
            try:
                line = self.read("you> ").strip()
            except (EOFError, KeyboardInterrupt):
                break
            if line in ("/quit", "/exit"):
                break
            if line:
                self.handle(line)
        self.close()

    def handle(self, line: str) -> None:
        if line in ("/good", "/bad"):
            self.rate(+1 if line == "/good" else -1)
        elif line == "/new":
            self.thread, self.last_answer = uuid.uuid4().hex[:12], None
            self.console.print("[dim]New conversation.[/dim]")
        elif line.startswith("/"):
            self.console.print(f"[dim]{HELP}[/dim]")
        else:
            surface = ConsoleSurface(self)
            self.lifecycle.handle(
                IncomingMessage(PLATFORM, "local", self.user, line, thread=self.thread), surface)
            with self.console.status("thinking…"):
                surface.first.wait()  # the spinner stops before anything is printed
            surface.quiet.set()
            surface.done.wait()
            self.lifecycle.pool.drain(30)  # the answer is recorded before the next command

    def rate(self, score: int) -> None:
        if self.last_answer is None:
            self.console.print("[dim]Nothing to rate yet — ask a question first.[/dim]")
            return
        reaction = "+1" if score > 0 else "-1"
        self.router.handle_reaction(
            ReactionEvent(PLATFORM, self.user, reaction, str(self.last_answer))
        )
        self.console.print("[dim]Thanks — feedback recorded.[/dim]")

    def send(self, reply: Reply, header: bool = True) -> None:
        """Print the reply (``header=False``: its text is already on screen) and its sources."""
        if header:
            self.console.print(f"[bold cyan]bot>[/bold cyan] {escape(reply.text)}")
        for line in source_lines(reply.sources, reply.text):
            self.console.print(f"  [dim]{escape(line)}[/dim]")
        if reply.message_id is not None:
            self.last_answer = reply.message_id

    def close(self) -> None:
        self.console.print("[dim]Bye.[/dim]")


class ConsoleSurface:
    """One question's reply in the terminal; ``done`` is set once something was printed."""

    def __init__(self, chat: ConsoleChat) -> None:
        self.chat, self.done = chat, threading.Event()
        self.first, self.quiet = threading.Event(), threading.Event()  # spinner handshake
        self.shown = ""  # what has been printed of the answer so far

    def _ready(self) -> None:
        """Ask the chat to stop its spinner, and wait until it has."""
        self.first.set()
        self.quiet.wait(5)

    def post(self, reply: Reply) -> None:
        self._ready()
        self.chat.send(reply)
        self.done.set()

    def working(self) -> None:
        """The chat shows a spinner while it waits for ``done``."""

    def update(self, text: str) -> None:
        """Print the new sentences as they stream (only while each extends the last)."""
        console = self.chat.console
        if not self.shown:
            self._ready()
            console.print("[bold cyan]bot>[/bold cyan] ", end="")
        elif not text.startswith(self.shown):
            return
        console.print(escape(text[len(self.shown):]), end="")
        self.shown = text

    def finish(self, reply: Reply) -> str | None:
        if self.shown and reply.text.startswith(self.shown):
            self.chat.console.print(escape(reply.text[len(self.shown):]))
            self.chat.send(reply, header=False)
            self.done.set()
        else:
            if self.shown:
                self.chat.console.print()
            self.post(reply)
        return str(reply.message_id) if reply.message_id is not None else None

    def fail(self, text: str) -> None:
        self.post(Reply(text))
