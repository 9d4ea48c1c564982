"""Requests and answers of the research tools (API bodies, CLI options)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from indexer.schemas import Filters, Hit, Query

GroupBy = Literal["year", "region", "doc_type"]
CompareBy = Literal["region", "document", "year"]
GroupKey = str | int | None


class _Filtered(Filters):
    """A research request: its own fields plus the filters search takes."""

    def filters(self) -> Filters:
        return Filters(**self.model_dump(include=set(Filters.model_fields)))


class TrendParams(_Filtered):
    q: Query = Field(..., description="Words or quoted phrases; each must occur exactly.")
    by: GroupBy = Field("year", description="Count per year, region or document type.")
    min_score: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="Hybrid score a passage needs to count as scored "
        "(0.3 is about what a query's tenth hit scores on the demo).",
    )


class TrendGroup(BaseModel):
    key: GroupKey = Field(
        ..., description="The year, region or type (null: not recorded, see ``unrecorded``)."
    )
    missing: bool = Field(False, description="The archive holds no document here.")
    documents_total: int
    passages_total: int
    chars: int = Field(..., description="Characters of the group's passages (the text size).")
    documents: int | None = Field(None, description="Documents with a matching passage.")
    passages: int | None = Field(None, description="Passages containing every term exactly.")
    per_100k_chars: float | None = Field(
        None, description="Matching passages per 100,000 characters of the group's text."
    )
    scored: int | None = Field(
        None, description="Passages of the hybrid ranking at or above min_score."
    )


class TrendResponse(BaseModel):
    query: str
    by: GroupBy
    terms: list[str] = Field(..., description="What must occur exactly, in matching form.")
    min_score: float
    filters: Filters
    documents: int
    passages: int
    scored: int
    scored_capped: bool = Field(
        False, description="The hybrid ranking stopped at its limit: more may score."
    )
    groups: list[TrendGroup] = Field(
        ..., description="One per year (region, type) the archive records, in order."
    )
    unrecorded: TrendGroup | None = Field(
        None,
        description="Documents whose year (region, type) is not recorded, counted apart: "
        "never a bar among the years. Null when every document has one.",
    )
    message: str | None = None
    version: str
    took_ms: float


class CompareParams(_Filtered):
    q: Query = Field(..., description="What to compare: keywords, a phrase or a question.")
    by: CompareBy = Field("region", description="Best passage per region, document or year.")


class CompareRow(BaseModel):
    key: GroupKey
    label: str
    hit: Hit | None = Field(None, description="The group's best passage, hybrid-ranked.")
    says_nothing: bool = Field(
        False, description="No passage of the group uses all of the query's keyword terms."
    )


class CompareResponse(BaseModel):
    query: str
    by: CompareBy
    filters: Filters
    rows: list[CompareRow]
    unrecorded: CompareRow | None = Field(
        None,
        description="The best passage of the documents whose region (year) is not recorded, "
        "apart from the rows; null when every document has one.",
    )
    message: str | None = None
    version: str
    took_ms: float


class SimilarResponse(BaseModel):
    passage_id: str
    hits: list[Hit] = Field(..., description="Passages of other documents, most similar first.")
    version: str
    took_ms: float
