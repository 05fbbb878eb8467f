"""Seed accredited facilitators so a fresh machine can book sessions with no manual step.

Fictional people and organisations. Fixed ids (documented in the service README); one is lapsed.

Revision ID: 0002
Revises: 0001
"""

from datetime import date
from uuid import UUID

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FACILITATORS = [
    {
        "id": UUID("9a3b8c1d-2e4f-4a5b-8c6d-7e8f9a0b1c2d"),
        "name": "Adaeze Nwosu",
        "email": "adaeze.nwosu@thameside.example.nhs.uk",
        "region": "London",
        "organisation": "Thameside NHS Foundation Trust",
        "status": "active",
        "elearning_passed_on": date(2024, 2, 12),
        "elearning_score": 92,
        "course_completed_on": date(2024, 3, 20),
        "monthly_capacity": 8,
        "languages": ["en", "yo"],
    },
    {
        "id": UUID("3f6d2a8e-51c4-4b7a-9e0d-6c2b8a4f1e37"),
        "name": "Gareth Holloway",
        "email": "gareth.holloway@trentside.example.nhs.uk",
        "region": "Midlands",
        "organisation": "Trentside University Hospitals NHS Trust",
        "status": "active",
        "elearning_passed_on": date(2023, 9, 4),
        "elearning_score": 85,
        "course_completed_on": date(2023, 10, 11),
        "monthly_capacity": 6,
        "languages": ["en"],
    },
    {
        "id": UUID("c84e1b52-7d3a-4f69-a1e8-0b5d9c2f6a43"),
        "name": "Priya Raman",
        "email": "priya.raman@penninevalley.example.nhs.uk",
        "region": "North East and Yorkshire",
        "organisation": "Pennine Valley NHS Trust",
        "status": "active",
        "elearning_passed_on": date(2025, 1, 15),
        "elearning_score": 81,
        "course_completed_on": date(2025, 2, 26),
        "monthly_capacity": 10,
        "languages": ["en", "ta", "hi"],
    },
    {
        "id": UUID("5e0a9d7c-2b8f-4c16-b3e4-8f7a1d6c0b95"),
        "name": "Morwenna Tregear",
        "email": "morwenna.tregear@severncoast.example.nhs.uk",
        "region": "South West",
        "organisation": "Severn Coast NHS Foundation Trust",
        "status": "lapsed",
        "elearning_passed_on": date(2019, 5, 2),
        "elearning_score": 88,
        "course_completed_on": date(2019, 6, 19),
        "monthly_capacity": 4,
        "languages": ["en", "kw"],
    },
]

facilitator = sa.table(
    "facilitator",
    sa.column("id", sa.Uuid),
    sa.column("name", sa.String),
    sa.column("email", sa.String),
    sa.column("region", sa.String),
    sa.column("organisation", sa.String),
    sa.column("status", sa.String),
    sa.column("elearning_passed_on", sa.Date),
    sa.column("elearning_score", sa.Integer),
    sa.column("course_completed_on", sa.Date),
    sa.column("monthly_capacity", sa.Integer),
    sa.column("languages", postgresql.ARRAY(sa.String)),
    schema="scheduling",
)


def upgrade() -> None:
    op.execute(postgresql.insert(facilitator).values(FACILITATORS).on_conflict_do_nothing(index_elements=["id"]))


def downgrade() -> None:
    ids = [f["id"] for f in FACILITATORS]
    for table in ("session", "slot"):
        owned = sa.table(table, sa.column("facilitator_id", sa.Uuid), schema="scheduling")
        op.execute(owned.delete().where(owned.c.facilitator_id.in_(ids)))
    op.execute(facilitator.delete().where(facilitator.c.id.in_(ids)))
