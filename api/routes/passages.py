"""Passages and documents by id (for "show me more" links)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.deps import SearcherDep
from indexer.schemas import DocumentDetail, PassageDetail

router = APIRouter(tags=["passages"])


@router.get("/passages/{passage_id}", response_model=PassageDetail)
def get_passage(
    passage_id: str,
    searcher: SearcherDep,
    context: Annotated[int, Query(ge=0, le=10)] = 0,
) -> PassageDetail:
    """One passage with its document and, on request, its neighbours."""
    found = searcher.passage(passage_id, context=context)
    if found is None:
        raise HTTPException(
            status_code=404, detail=f"no passage with id {passage_id!r} in this index"
        )
    return found


@router.get("/documents/{doc_id}", response_model=DocumentDetail)
def get_document(doc_id: str, searcher: SearcherDep) -> DocumentDetail:
    """A whole document: metadata and all passages in reading order."""
    found = searcher.document(doc_id)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no document with id {doc_id!r} in this index")
    return found
