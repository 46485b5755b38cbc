"""Pull site exports from where the sites drop them into an immutable landing.

``trialdw pull SOURCE LANDING`` and the nightly flow's first task copy every
complete transfer under an SFTP server, an S3 bucket or a folder
(``<STUDYID>/<SITEID>/<TRANSFER_ID>/`` with its ``manifest.json``) that the
landing does not hold yet: verified against its manifest, written into a hidden
folder, flushed and renamed into place, read-only from then on. The modules,
in the order a pull uses them:

- ``sources``: the sources file (where each study's and site's drop zone is, and
  references to its credentials), read strictly; ``secrets`` resolves the references.
- ``remote``: the source opened with its fsspec backend (sshfs, s3fs, local),
  host keys verified (``hostkeys`` says what went wrong in one line).
- ``walk``: the transfer folders a source holds.
- ``transfer``: what to do with one of them; ``copy_transfer`` copies it;
  ``landing_area`` knows the landing's layout, lock, and atomic rename.
- ``pull``: every source, with retries for transient network faults.
- ``outcomes`` / ``progress``: what happened, said per transfer.
- ``record``: the outcomes into the warehouse (``audit.pulls``, findings).

See docs/operations.md, "Pulling from sites".
"""

from trialdw.pull.outcomes import PullReport, TransferOutcome
from trialdw.pull.pull import pull_source, pull_sources
from trialdw.pull.record import record_pull_outcomes
from trialdw.pull.sources import Source, load_sources, source_from_url

__all__ = [
    "PullReport",
    "Source",
    "TransferOutcome",
    "load_sources",
    "pull_source",
    "pull_sources",
    "record_pull_outcomes",
    "source_from_url",
]
