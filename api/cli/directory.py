"""`callvault users` and `callvault teams`: the directory, as an operator sets it up."""

from __future__ import annotations

import click

from api.cli.context import Context, cli_actor, pass_context
from api.cli.output import console
from domain.errors import DomainError
from domain.identity import Role


@click.group()
def users() -> None:
    """Users and their bearer tokens."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--team", default=None, help="Team name (agents must have one).")
@pass_context
def users_add(ctx: Context, name: str, role: str, team: str | None) -> None:
    """Create a user and print its bearer token (shown only this once)."""
    try:
        _, token = ctx.components.identity.register_user(name=name, role=role, team=team, by=cli_actor())
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    click.echo(token)


@click.group()
def teams() -> None:
    """Teams and who answers for them."""


@teams.command("add")
@click.argument("name")
@click.option("--parent", default=None, help="The team this one sits under.")
@pass_context
def teams_add(ctx: Context, name: str, parent: str | None) -> None:
    """Create a team."""
    try:
        ctx.components.identity.create_team(name=name, parent=parent, by=cli_actor())
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    console.print(f"team {name} created")
