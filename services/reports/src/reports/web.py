"""HTTP API: where a cycle's report is (its content is not served until access rules exist)."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel
from sqlalchemy import select
from sqlmodel import col

from reports.tables import Report
from shared.service import ServiceRuntime, runtime_of

router = APIRouter()


class ReportLocation(BaseModel):
    report_id: UUID
    cycle_id: UUID
    generated_at: datetime
    html_path: str
    pdf_path: str
    pages: int


@router.get("/api/cycles/{cycle_id}/report")
async def report_of_cycle(cycle_id: UUID, runtime: Annotated[ServiceRuntime, Depends(runtime_of)]) -> ReportLocation:
    async with runtime.uow() as uow:
        row = (
            await uow.session.execute(
                select(
                    col(Report.id),
                    col(Report.cycle_id),
                    col(Report.generated_at),
                    col(Report.html_path),
                    col(Report.pdf_path),
                    col(Report.pages),
                ).where(col(Report.cycle_id) == cycle_id)
            )
        ).first()
    if row is None:
        raise HTTPException(status_code=404, detail="no report for this cycle yet")
    return ReportLocation(
        report_id=row.id,
        cycle_id=row.cycle_id,
        generated_at=row.generated_at,
        html_path=row.html_path,
        pdf_path=row.pdf_path,
        pages=row.pages,
    )
