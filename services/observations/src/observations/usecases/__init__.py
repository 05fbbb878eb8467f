"""Use cases of the observations service, one module per feature. Each runs inside the caller's
unit of work; the caller (the HTTP route or a job) commits, so one use case is one transaction.

- `accounts`: one-time sign-in links, creating an account, forgetting old links
- `journal`: recording, listing, filtering, editing and deleting observations; drafts
- `mail`: what a queued email says when it is sent
"""

from observations.usecases.accounts import (
    AccountView,
    LinkUse,
    SignInRequest,
    account,
    check_link,
    forget_old_links,
    request_sign_in,
    use_link,
)
from observations.usecases.journal import (
    Journal,
    Saved,
    Summary,
    delete_observation,
    journal,
    observation,
    save_observation,
)

__all__ = [
    "AccountView",
    "Journal",
    "LinkUse",
    "Saved",
    "SignInRequest",
    "Summary",
    "account",
    "check_link",
    "delete_observation",
    "forget_old_links",
    "journal",
    "observation",
    "request_sign_in",
    "save_observation",
    "use_link",
]
