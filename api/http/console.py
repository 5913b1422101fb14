"""The web console: server-rendered pages over the same application services as the API.

Sign in with an API token (exchanged for a session cookie), search within your
reach, open a recording (its details, timeline and history), open the player
with a reason (one Played event), annotate at the playhead. Every page carries a
strict Content-Security-Policy (scripts only from /static) and sends no
Referer, so the grants in media URLs never leave the page. Forms carry the
session's CSRF token; refusals render as pages with the status the API would use.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from uuid import UUID, uuid4

import anyio.to_thread
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException, ValidationException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router

from api.console.charts import report_chart
from api.http.context import SESSION_COOKIE, principal_of, session_of
from api.http.playback import media_urls
from api.http.problems import problem, status_of
from api.services.access import actor
from api.services.recordings import SearchRequest, parse_tags
from api.services.reports import REPORTS, ReportRequest
from domain import commands
from domain.errors import DomainError, Forbidden, InvalidCommand
from domain.evaluation_form import Comment
from domain.permissions import ALLOWED, Action, Principal
from domain.values import PLAY_PARTS

CONSOLE = Path(__file__).resolve().parent.parent / "console"
TEMPLATES = CONSOLE / "templates"
STATIC = CONSOLE / "static"
# The vendored files' needs beyond 'self': wavesurfer's one shadow-root <style>, by its hash
# (scripts/vendor-frontend records it; tests/unit/test_console_assets.py recomputes it).
STYLE_SOURCES = json.loads((CONSOLE / "vendor.json").read_text())["csp"]["style-src"]
CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src " + " ".join(STYLE_SOURCES),
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
SEARCH_FIELDS = ("agent", "team", "customer", "queue", "direction", "status", "from", "until", "tag", "missing", "hold")
PAGE_SIZE = 25

static_files = create_static_files_router(path="/static", directories=[STATIC], name="static")


def _components(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.components


async def _run[T](work: Callable[[], T]) -> T:
    return await anyio.to_thread.run_sync(work)


def _page(request: Request[Any, Any, Any], name: str, status: int = 200, **context: Any) -> Template:
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    session = session_of(request)
    csrf = _components(request).console_sessions.csrf_token(session) if session and principal else ""
    return Template(
        template_name=name,
        context={"me": principal, "csrf": csrf, **context},
        status_code=status,
        headers=SECURITY_HEADERS,
    )


def _signed_in(request: Request[Any, Any, Any]) -> Principal:
    return principal_of(request)  # NotAuthorizedException: the handler below sends the browser to sign in


async def _check_csrf(request: Request[Any, Any, Any], presented: str | None) -> None:
    session = session_of(request)
    if session is None:
        raise Forbidden("not signed in")
    _components(request).console_sessions.check_csrf(session, presented)


def _wants_page(request: Request[Any, Any, Any]) -> bool:
    """A browser navigating (it asks for HTML) gets pages; scripts and other clients get problem+json."""
    return "text/html" in request.headers.get("accept", "")


def _refusal(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """A refusal as the API words it, rendered as a page for a browser (sent to sign in first,
    when it asked for a page without a session)."""
    if isinstance(error, NotAuthorizedException):
        if _wants_page(request) and request.method == "GET":
            return Redirect("/sign-in", status_code=303)
        status, title, detail = 401, "Unauthorized", "sign in first"
    elif isinstance(error, DomainError):
        (status, title), detail = status_of(error), str(error)
    elif isinstance(error, ValidationException):
        status, title, detail = 422, "Invalid request", str(error.detail)
    else:
        raise error
    if _wants_page(request):
        return _page(request, "error.html", status, title=title, detail=detail, code=status)
    response = problem(status, title, detail, error=type(error).__name__)
    response.headers.update(SECURITY_HEADERS)
    return response


class Console(Controller):
    path = "/"
    include_in_schema = False
    exception_handlers = {
        NotAuthorizedException: _refusal,
        DomainError: _refusal,
        ValidationException: _refusal,
    }

    @get("/")
    async def home(self, request: Request[Any, Any, Any]) -> Redirect:
        signed_in = request.scope.get("state", {}).get("principal") is not None
        return Redirect("/search" if signed_in else "/sign-in", status_code=303)

    # -- signing in and out ----------------------------------------------

    @get("/sign-in")
    async def sign_in_form(self, request: Request[Any, Any, Any]) -> Template:
        return _page(request, "sign_in.html", form_token=_components(request).console_sessions.sign_in_form_token())

    @post("/sign-in")
    async def sign_in(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        sessions = _components(request).console_sessions
        try:
            sessions.check_sign_in_form_token(form.get("csrf_token"))
            session_id, _ = await _run(lambda: sessions.sign_in(str(form.get("token") or "")))
        except Forbidden as refusal:
            if not _wants_page(request):
                raise
            return _page(request, "sign_in.html", 403, form_token=sessions.sign_in_form_token(), error=str(refusal))
        cookie = Cookie(
            key=SESSION_COOKIE,
            value=session_id,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return Redirect("/search", status_code=303, cookies=[cookie], headers=SECURITY_HEADERS)

    @post("/sign-out")
    async def sign_out(self, request: Request[Any, Any, Any]) -> Redirect:
        form = await request.form()
        await _check_csrf(request, form.get("csrf_token"))
        session = session_of(request)
        if session:
            _components(request).console_sessions.sign_out(session)
        redirect = Redirect("/sign-in", status_code=303)
        redirect.delete_cookie(SESSION_COOKIE, path="/")
        return redirect

    # -- search ----------------------------------------------------------

    @get("/search")
    async def search(self, request: Request[Any, Any, Any]) -> Template:
        principal = _signed_in(request)
        query = request.query_params
        filters = {name: query.get(name) or "" for name in SEARCH_FIELDS if name != "tag"}
        tags = [tag for tag in query.getall("tag", []) if tag]
        search = SearchRequest(
            agent=filters["agent"] or None,
            team=filters["team"] or None,
            customer=filters["customer"] or None,
            queue=filters["queue"] or None,
            direction=filters["direction"] or None,
            status=filters["status"] or None,
            started_from=_moment("from", filters["from"]),
            started_until=_moment("until", filters["until"]),
            tag=parse_tags(tags),
            missing=True if filters["missing"] else None,
            hold=True if filters["hold"] else None,
            limit=PAGE_SIZE,
            after=query.get("after") or None,
        )
        page = await _run(lambda: _components(request).recordings.search(principal, search))
        next_url = None
        if page.next:
            kept = [(k, v) for k, v in query.multi_items() if k != "after" and v]
            next_url = "/search?" + urlencode([*kept, ("after", page.next)])
        return _page(request, "search.html", filters=filters, tags=" ".join(tags), page=page, next_url=next_url)

    # -- one recording ---------------------------------------------------

    @get("/recordings/{recording_id:uuid}")
    async def recording(
        self,
        request: Request[Any, Any, Any],
        recording_id: FromPath[UUID],
        viewing: FromQuery[str | None] = None,
        form: FromQuery[str | None] = None,
        revise: FromQuery[str | None] = None,
    ) -> Template:
        principal = _signed_in(request)
        components = _components(request)
        detail = await _run(lambda: components.recordings.detail(principal, recording_id))
        player = await _run(lambda: self._player(request, principal, recording_id, viewing)) if viewing else None
        timeline = await _run(lambda: components.playback.timeline(recording_id))
        purge = next((e for e in detail.events if e.type == "Purged"), None)
        _, terms = components.ledger.current_policy()
        ended = purge is None and any(e.type == "CallEnded" for e in detail.events)
        quality = await _run(lambda: _evaluations_of(components, principal, recording_id, form, revise, ended=ended))
        return _page(
            request,
            "recording.html",
            recording_id=recording_id,
            detail=detail,
            timeline=timeline,
            purge=purge,
            player=player,
            viewing=viewing,
            **quality,
            may_play=principal.role in ALLOWED[Action.PLAY],
            may_unredact=principal.role in ALLOWED[Action.PLAY_UNREDACTED],
            reasons=terms.playback_reasons,
            parts=PLAY_PARTS,
            snapshots=[m for m in timeline.marks if m.kind == "snapshot"],
        )

    @get("/recordings/{recording_id:uuid}/player")
    async def standalone_player(
        self, request: Request[Any, Any, Any], recording_id: FromPath[UUID], viewing: FromQuery[str]
    ) -> Template:
        """The player alone, for a second monitor: the same viewing (no new Played), the same grant."""
        principal = _signed_in(request)
        player = await _run(lambda: self._player(request, principal, recording_id, viewing))
        return _page(request, "player.html", recording_id=recording_id, player=player)

    @post("/recordings/{recording_id:uuid}/viewings")
    async def open_viewing(self, request: Request[Any, Any, Any], recording_id: FromPath[UUID]) -> Redirect:
        principal = _signed_in(request)
        form = await request.form()
        await _check_csrf(request, form.get("csrf_token"))
        reason, parts = str(form.get("reason_code") or ""), [str(p) for p in form.getall("parts", [])]
        if not parts:
            raise InvalidCommand("choose what to play: audio, screen or both")
        unredacted = form.get("unredacted") == "yes"
        viewing = await _run(
            lambda: _components(request).playback.open_viewing(
                principal, recording_id, reason, parts, unredacted=unredacted
            )
        )
        return Redirect(f"/recordings/{recording_id}?viewing={viewing.grant}", status_code=303)

    @post("/recordings/{recording_id:uuid}/annotations")
    async def annotate(self, request: Request[Any, Any, Any], recording_id: FromPath[UUID]) -> Response[Any]:
        """JSON from the player's script (CSRF token in a header), or a plain form post."""
        principal = _signed_in(request)
        as_json = request.headers.get("content-type", "").startswith("application/json")
        if as_json:
            try:
                body = msgspec.json.decode(await request.body(), type=AnnotationIn)
            except msgspec.MsgspecError as error:
                raise InvalidCommand(f"the annotation is not valid: {error}") from None
            await _check_csrf(request, request.headers.get("x-csrf-token"))
            text, offset = body.text, body.media_offset_ms
        else:
            form = await request.form()
            await _check_csrf(request, form.get("csrf_token"))
            text, offset = str(form.get("text") or ""), _whole("media_offset_ms", form.get("media_offset_ms"))
        annotation = commands.Annotate(
            recording_id, media_offset_ms=offset, text=text, occurred_at=datetime.now(UTC), by=actor(principal)
        )
        await _run(lambda: _components(request).lifecycle.change(principal, annotation))
        if as_json:
            return Response(
                {"at_ms": offset, "text": text, "actor": principal.name}, status_code=201, headers=SECURITY_HEADERS
            )
        # Without the player's script: back to the page (the viewing's grant is not at hand:
        # pages send no Referer, so it cannot leak through one).
        return Redirect(f"/recordings/{recording_id}", status_code=303)

    @post("/recordings/{recording_id:uuid}/evaluations")
    async def evaluate(self, request: Request[Any, Any, Any], recording_id: FromPath[UUID]) -> Redirect:
        """The evaluation form: an answer per question, comments pinned at moments of the call."""
        principal = _signed_in(request)
        form = await request.form()
        await _check_csrf(request, form.get("csrf_token"))
        command = commands.SubmitEvaluation(recording_id, evaluation_id=str(uuid4()), **_answered(form, principal))
        await _run(lambda: _components(request).evaluations.evaluate(principal, command))
        return _back_to(recording_id, form.get("viewing"))

    @post("/recordings/{recording_id:uuid}/evaluations/{evaluation_id:str}/revisions")
    async def revise(
        self, request: Request[Any, Any, Any], recording_id: FromPath[UUID], evaluation_id: FromPath[str]
    ) -> Redirect:
        """The evaluator's next revision of its evaluation (the form, prefilled with the current one)."""
        principal = _signed_in(request)
        form = await request.form()
        await _check_csrf(request, form.get("csrf_token"))
        command = commands.ReviseEvaluation(recording_id, evaluation_id=evaluation_id, **_answered(form, principal))
        await _run(lambda: _components(request).evaluations.evaluate(principal, command))
        return _back_to(recording_id, form.get("viewing"))

    @post("/recordings/{recording_id:uuid}/evaluations/{evaluation_id:str}/response")
    async def respond(
        self, request: Request[Any, Any, Any], recording_id: FromPath[UUID], evaluation_id: FromPath[str]
    ) -> Redirect:
        """The agent acknowledges or disputes the evaluation of its call."""
        principal = _signed_in(request)
        form = await request.form()
        await _check_csrf(request, form.get("csrf_token"))
        acknowledged = form.get("response") == "acknowledge"
        response = commands.AcknowledgeEvaluation if acknowledged else commands.DisputeEvaluation
        command = response(
            recording_id,
            evaluation_id=evaluation_id,
            revision=_whole("revision", form.get("revision")),
            comment=str(form.get("comment") or "").strip(),
            occurred_at=datetime.now(UTC),
            by=actor(principal),
        )
        await _run(lambda: _components(request).evaluations.respond(principal, command))
        return _back_to(recording_id, form.get("viewing"))

    @staticmethod
    def _player(
        request: Request[Any, Any, Any], principal: Principal, recording_id: UUID, token: str
    ) -> dict[str, Any]:
        """What the player page needs: its media URLs (with the grant) and the timeline."""
        components = _components(request)
        grant = components.playback.viewing(principal, recording_id, token)
        timeline = components.playback.timeline(recording_id)
        playable, peaks = media_urls(recording_id, token)
        parts = grant.parts.split(",")
        may_annotate = principal.role in ALLOWED[Action.ANNOTATE]
        return {
            "parts": parts,
            "data": {
                "recording_id": str(recording_id),
                "duration_ms": timeline.duration_ms,
                "media_url": playable,
                "peaks_url": peaks if "audio" in parts else None,
                "has_screen": "screen" in parts,
                "has_audio": "audio" in parts,
                "regions": [
                    {"kind": s.kind, "start_ms": s.start_ms, "end_ms": s.end_ms, "label": s.label}
                    for s in timeline.spans
                ],
                "markers": [{"kind": m.kind, "at_ms": m.at_ms, "label": m.label} for m in timeline.marks],
                # Where card data was spoken: the media is silent and frameless there, the player blank.
                "hidden_spans": []
                if grant.unredacted
                else [[s.start_ms, s.end_ms] for s in timeline.spans if s.kind == "card"],
                "unredacted": grant.unredacted,
                "transcript_url": f"/v1/recordings/{recording_id}/transcript"
                if principal.role in ALLOWED[Action.READ_TRANSCRIPT]
                else None,
                "annotate_url": f"/recordings/{recording_id}/annotations" if may_annotate else None,
                "csrf_token": components.console_sessions.csrf_token(session_of(request))
                if session_of(request)
                else "",
                "standalone_url": f"/recordings/{recording_id}/player?viewing={token}",
            },
            "snapshot_url": lambda snapshot_id: (
                f"/v1/recordings/{recording_id}/snapshots/{snapshot_id}/image?grant={token}"
            ),
        }


class AnnotationIn(msgspec.Struct, forbid_unknown_fields=True):
    text: str
    media_offset_ms: int


def _evaluations_of(
    components: Any,
    principal: Principal,
    recording_id: UUID,
    chosen_form: str | None,
    revised: str | None,
    *,
    ended: bool,
) -> dict[str, Any]:
    """The recording page's evaluations, the form versions they cite, and for a quality manager
    the form to fill in: to evaluate the call (the form chosen, or the first), or to revise one
    of its own evaluations (the latest version of that evaluation's form, with its answers)."""
    if principal.role not in ALLOWED[Action.READ_EVALUATIONS]:
        return {"evaluations": [], "form_versions": {}, "evaluation_form": None, "forms": []}
    evaluations = components.evaluations.of_recording(principal, recording_id)
    cited = {(r.form_id, r.form_version) for e in evaluations for r in e.revisions}
    form_versions = {key: components.evaluations.form(principal, *key) for key in cited}
    may_evaluate = principal.role in ALLOWED[Action.EVALUATE] and ended
    forms = components.evaluations.forms(principal) if may_evaluate else []
    revising = next((e for e in evaluations if e.evaluation_id == revised and e.evaluator == principal.name), None)
    if revising is not None and may_evaluate:
        latest = revising.revisions[-1]
        evaluation_form = components.evaluations.form(principal, latest.form_id)
        preset = {"answers": latest.answers, "comments": latest.comments}
    else:
        chosen = next((f for f in forms if f.form_id == chosen_form), forms[0] if forms else None)
        evaluation_form = components.evaluations.form(principal, chosen.form_id) if chosen else None
        preset = {"answers": {}, "comments": []}
    return {
        "evaluations": evaluations,
        "form_versions": form_versions,
        "forms": forms,
        "evaluation_form": evaluation_form,
        "revising": revising if may_evaluate else None,
        "preset": preset,
        "may_evaluate": may_evaluate,
        "may_respond": principal.role in ALLOWED[Action.RESPOND_EVALUATION],
    }


def _answered(form: Any, principal: Principal) -> dict[str, Any]:
    """An evaluation form's fields as its command takes them: an answer per question, and the
    comments pinned at moments of the call (rows left empty are none)."""
    pinned = zip(form.getall("comment_at_ms", []), form.getall("comment_text", []), strict=False)
    return {
        "form_id": str(form.get("form_id") or ""),
        "form_version": _whole("form_version", form.get("form_version")),
        "answers": {
            str(name).removeprefix("answer:"): str(value)
            for name, value in form.multi_items()
            if str(name).startswith("answer:")
        },
        "comments": tuple(
            Comment(_whole("comment_at_ms", at), str(text).strip()) for at, text in pinned if str(text).strip()
        ),
        "occurred_at": datetime.now(UTC),
        "by": actor(principal),
    }


def _back_to(recording_id: UUID, viewing: Any) -> Redirect:
    """Back to the recording's page, with the player the form was sent from (its grant) if any."""
    query = f"?{urlencode({'viewing': viewing})}" if viewing else ""
    return Redirect(f"/recordings/{recording_id}{query}", status_code=303)


def _moment(name: str, text: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidCommand(f"{name} must be a date and time, e.g. 2026-11-23T09:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _whole(name: str, text: Any) -> int:
    try:
        return int(str(text))
    except ValueError:
        raise InvalidCommand(f"{name} must be a whole number") from None


# -- historical reports ----------------------------------------------------------


class ReportPages(Controller):
    """The reports page and one report's page: its chart (SVG drawn here), its table and its
    CSV, which the API serves (a GET, so the session cookie is enough)."""

    path = "/reports"
    include_in_schema = False
    exception_handlers = Console.exception_handlers

    @get("/")
    async def reports(self, request: Request[Any, Any, Any]) -> Template:
        principal = _signed_in(request)
        await _run(lambda: _components(request).access.allow(principal, Action.REPORT_READ))
        form = _report_form(request)
        return _page(request, "reports.html", reports=REPORTS, form=form, query=urlencode(form))

    @get("/{name:str}")
    async def report(self, request: Request[Any, Any, Any], name: FromPath[str]) -> Template:
        principal = _signed_in(request)
        form = _report_form(request)
        started_from, through = _moment("from", form["from"]), _moment("through", form["through"])
        if started_from is None or through is None or through.date() == date.max:
            raise InvalidCommand("choose the first and the last day")
        asked = ReportRequest(
            started_from=started_from,
            started_until=through + timedelta(days=1),  # through that whole day
            agent=form["agent"] or None,
            team=form["team"] or None,
            queue=form["queue"] or None,
            format="html",  # the console's page; its CSV link is an access of its own
        )
        produced = await _run(lambda: _components(request).reports.produce(principal, name, asked))
        api_query = [("from", asked.started_from.isoformat()), ("to", asked.started_until.isoformat())]
        api_query += [(k, v) for k, v in form.items() if k in ("agent", "team", "queue") and v]
        rows = msgspec.to_builtins(produced.rows)
        return _page(
            request,
            "reports_view.html",
            report_name=name,
            kind=REPORTS[name],
            report=produced,
            form=form,
            query=urlencode(form),
            chart=report_chart(produced),
            columns=REPORTS[name].row.__struct_fields__,
            headings=[_heading(column) for column in REPORTS[name].row.__struct_fields__],
            cells=[[_cell(column, value) for column, value in row.items()] for row in rows],
            csv_url=f"/v1/reports/{name}?" + urlencode([*api_query, ("format", "csv")]),
            json_url=f"/v1/reports/{name}?" + urlencode(api_query),
        )


REPORT_FORM = ("from", "through", "agent", "team", "queue")
REPORT_DAYS = 7  # the range a report page opens with: the last week, today included


def _report_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    query = request.query_params
    today = datetime.now(UTC).date()
    defaults = {"from": (today - timedelta(days=REPORT_DAYS - 1)).isoformat(), "through": today.isoformat()}
    return {name: query.get(name) or defaults.get(name, "") for name in REPORT_FORM}


def _heading(column: str) -> str:
    return column.removesuffix("_ms").replace("_", " ") + (" (h:mm:ss)" if column.endswith("_ms") else "")


def _cell(column: str, value: Any) -> str:
    """A table cell as a person reads it: durations as h:mm:ss, times to the second."""
    if column.endswith("_ms") and isinstance(value, int):
        seconds = value // 1000
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    if column.endswith("_at") and isinstance(value, str):
        return value[:19].replace("T", " ")
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)
