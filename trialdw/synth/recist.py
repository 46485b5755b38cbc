"""RECIST 1.1 timepoint response, used to write the investigator's RS rows.

The generator draws lesion sizes first and then *reads* them like an
investigator would, so RS always agrees with TR/TU (apart from deliberate
defects). Integer millimetres and integer arithmetic: no float edge cases at
exactly 30 % / 20 %.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timepoint:
    trgresp: str | None  # None when the subject has no target lesions
    ntrgresp: str | None  # None when the subject has no non-target lesions
    newlprog: str  # Y / N
    ovrlresp: str


def target_response(sizes: dict[str, int | None], nodal: dict[str, bool], baseline_sod: int, nadir_sod: int) -> str:
    """CR/PR/SD/PD/NE from target diameters (None = lesion not measured)."""
    measured = [v for v in sizes.values() if v is not None]
    sod = sum(measured)
    progressed = 10 * sod >= 12 * nadir_sod and sod - nadir_sod >= 5
    if any(v is None for v in sizes.values()):
        # Missing lesions can only make the sum larger: PD stays evident, else NE.
        return "PD" if progressed else "NE"
    if progressed:
        return "PD"
    if all((v < 10) if nodal[k] else (v == 0) for k, v in sizes.items()):
        return "CR"
    if 10 * sod <= 7 * baseline_sod:
        return "PR"
    return "SD"


def nontarget_response(states: list[str]) -> str | None:
    if not states:
        return None
    if "UNEQUIVOCAL PROGRESSION" in states:
        return "PD"
    if all(s == "ABSENT" for s in states):
        return "CR"
    return "NON-CR/NON-PD"


def overall_response(trg: str | None, ntrg: str | None, new_lesion: bool) -> str:
    """RECIST 1.1 tables 1 and 2 (target + non-target, or non-target only)."""
    if new_lesion or trg == "PD" or ntrg == "PD":
        return "PD"
    if trg is None:  # non-target disease only
        return {"CR": "CR", "NON-CR/NON-PD": "NON-CR/NON-PD"}.get(ntrg or "", "NE")
    if trg == "CR":
        return "CR" if ntrg in (None, "CR") else "PR"
    return trg  # PR, SD, NE (non-target non-PD does not change them)


def timepoint(
    sizes: dict[str, int | None],
    nodal: dict[str, bool],
    baseline_sod: int,
    nadir_sod: int,
    nontarget_states: list[str],
    new_lesion: bool,
) -> Timepoint:
    trg = target_response(sizes, nodal, baseline_sod, nadir_sod) if sizes else None
    ntrg = nontarget_response(nontarget_states)
    return Timepoint(trg, ntrg, "Y" if new_lesion else "N", overall_response(trg, ntrg, new_lesion))
