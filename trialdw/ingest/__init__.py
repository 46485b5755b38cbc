"""Site transfers into the warehouse: transfer checks, data contracts, row
validation (pandera, polars backend), loading and the findings life cycle."""

from trialdw.ingest.contracts import Contract, ContractError, load_contracts
from trialdw.ingest.findings import apply_findings
from trialdw.ingest.landing import ingest_landing
from trialdw.ingest.load import ensure_audit, load_transfer, record_transfer
from trialdw.ingest.rows import validate_transfer
from trialdw.ingest.transfers import check_transfer, discover
from trialdw.ingest.types import (
    DomainOutput,
    FileInfo,
    IngestSummary,
    ReconciliationError,
    TransferCheck,
    TransferRef,
    ValidatedTransfer,
)

__all__ = [
    "Contract",
    "ContractError",
    "DomainOutput",
    "FileInfo",
    "IngestSummary",
    "ReconciliationError",
    "TransferCheck",
    "TransferRef",
    "ValidatedTransfer",
    "apply_findings",
    "check_transfer",
    "discover",
    "ensure_audit",
    "ingest_landing",
    "load_contracts",
    "load_transfer",
    "record_transfer",
    "validate_transfer",
]
