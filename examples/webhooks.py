"""Webhooks start workflows (docs/webhooks.md).

    logloom serve examples/webhooks.py --no-auth --webhook-secrets secrets.txt

with ``secrets.txt`` holding ``github/repo-a YOUR-GITHUB-SECRET``; then point a GitHub
repository's webhook (content type application/json, push events) at
``https://YOUR-HOST/v1/webhooks/github/repo-a``. Stripe's signing secret comes from the
environment: ``STRIPE_WEBHOOK_SECRET=whsec_...``.
"""

from engine import WebhookDelivery, WorkflowContext, webhook, workflow


async def count_commits(commits: list) -> int:
    return len(commits)


@workflow(triggers=[webhook("github", name="repo-a", event="push")])
async def on_push(ctx: WorkflowContext, ref: str, commits: list) -> dict:
    """One run per push to repo-a: the body's ``ref`` and ``commits`` bind by name."""
    count = await ctx.step.run("count", count_commits, commits)
    return {"ref": ref, "commits": count}


@workflow(triggers=[webhook("stripe", event="payment_intent.*", secret="env:STRIPE_WEBHOOK_SECRET")])
async def on_payment(ctx: WorkflowContext, delivery: WebhookDelivery) -> str:
    """One run per payment intent event: the whole delivery, its body parsed."""
    return f"{delivery.event}: {delivery.body['data']['object'].get('amount')}"
