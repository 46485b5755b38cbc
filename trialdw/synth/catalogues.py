"""Clinical vocabularies the generator draws from (demo realism, not a standard).

Weights are per drug *class* so a third study with another VEGFR inhibitor or
checkpoint inhibitor gets a plausible AE profile without code changes; an
unknown EXTRT falls back to the class ``ANY``.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- treatments ------------------------------------------------------------

DRUG_CLASS = {
    "REGORAFENIB": "TKI",
    "SURUFATINIB": "TKI",
    "SORAFENIB": "TKI",
    "LENVATINIB": "TKI",
    "CABOZANTINIB": "TKI",
    "APATINIB": "TKI",
    "PD-1 INHIBITOR": "IO",
    "CAMRELIZUMAB": "IO",
    "SINTILIMAB": "IO",
    "TISLELIZUMAB": "IO",
    "NIVOLUMAB": "IO",
    "PEMBROLIZUMAB": "IO",
    "ATEZOLIZUMAB": "IO",
}
CYCLE_DAYS = 28
INFUSION_INTERVAL_DAYS = {"Q2W": 14, "Q3W": 21, "Q4W": 28}


def days_on_per_cycle(schedule: str | None) -> int:
    """Oral schedule like '3 weeks on / 1 week off' -> 21 of 28 days; else continuous."""
    text = (schedule or "").lower()
    if "3 weeks on" in text:
        return 21
    if "2 weeks on" in text:
        return 14
    return CYCLE_DAYS


# --- adverse events (MedDRA-like PT / SOC) ------------------------------------


@dataclass(frozen=True, eq=False)  # compared and hashed by identity (a catalogue entry)
class AeTerm:
    decod: str
    bodsys: str
    verbatims: tuple[str, ...]
    drug_related: bool  # typical of the drug (relatedness skews to related)
    weight: dict[str, float]  # by drug class: TKI, IO, ANY


SKIN = "Skin and subcutaneous tissue disorders"
GI = "Gastrointestinal disorders"
GENERAL = "General disorders and administration site conditions"
INVEST = "Investigations"
METAB = "Metabolism and nutrition disorders"
RESP = "Respiratory, thoracic and mediastinal disorders"
HEPATO = "Hepatobiliary disorders"

AE_TERMS: tuple[AeTerm, ...] = (
    AeTerm(
        "Palmar-plantar erythrodysaesthesia syndrome",
        SKIN,
        (
            "Hand-foot skin reaction",
            "HFSR",
            "Hand foot syndrome",
            # EDC free text with a line break: a CSV record spanning two lines.
            "Hand-foot skin reaction\n(soles of both feet)",
        ),
        True,
        {"TKI": 10},
    ),
    AeTerm(
        "Hypertension",
        "Vascular disorders",
        ("Hypertension", "High blood pressure", "Elevated BP"),
        True,
        {"TKI": 9, "ANY": 1},
    ),
    AeTerm("Diarrhoea", GI, ("Diarrhea", "Diarrhoea", "Loose stools"), True, {"TKI": 6, "IO": 2, "ANY": 2}),
    AeTerm("Fatigue", GENERAL, ("Fatigue", "Tiredness"), True, {"TKI": 5, "IO": 3, "ANY": 3}),
    AeTerm("Proteinuria", "Renal and urinary disorders", ("Proteinuria", "Protein in urine"), True, {"TKI": 6}),
    AeTerm(
        "Alanine aminotransferase increased",
        INVEST,
        ("ALT increased", "Elevated ALT"),
        True,
        {"TKI": 4, "IO": 3, "ANY": 1},
    ),
    AeTerm(
        "Aspartate aminotransferase increased",
        INVEST,
        ("AST increased", "AST elevation"),
        True,
        {"TKI": 4, "IO": 3, "ANY": 1},
    ),
    AeTerm(
        "Blood bilirubin increased",
        INVEST,
        ("Bilirubin increased", "Total bilirubin elevated"),
        True,
        {"TKI": 3, "ANY": 1},
    ),
    AeTerm(
        "Hypothyroidism", "Endocrine disorders", ("Hypothyroidism", "Low thyroid function"), True, {"IO": 5, "TKI": 1.5}
    ),
    AeTerm("Rash", SKIN, ("Rash", "Skin rash"), True, {"IO": 4, "TKI": 2}),
    AeTerm("Decreased appetite", METAB, ("Decreased appetite", "Loss of appetite"), True, {"TKI": 4, "ANY": 1}),
    AeTerm("Hypertriglyceridaemia", METAB, ("Hypertriglyceridemia", "High triglycerides"), True, {"TKI": 2}),
    AeTerm(
        "Platelet count decreased", INVEST, ("Platelet count decreased", "Low platelets"), True, {"TKI": 3, "ANY": 1}
    ),
    AeTerm("Dysphonia", RESP, ("Hoarseness", "Dysphonia"), True, {"TKI": 3}),
    AeTerm("Pneumonitis", RESP, ("Pneumonitis", "Immune-related pneumonitis"), True, {"IO": 1.5}),
    AeTerm("Immune-mediated hepatitis", HEPATO, ("Immune hepatitis", "Immune-mediated hepatitis"), True, {"IO": 1}),
    AeTerm("Pyrexia", GENERAL, ("Fever", "Pyrexia"), False, {"ANY": 2}),
    AeTerm("Abdominal pain", GI, ("Abdominal pain", "Upper abdominal pain"), False, {"ANY": 2}),
    AeTerm("Ascites", GI, ("Ascites", "Increasing ascites"), False, {"ANY": 1.5}),
)

# A death without radiological progression is an AE with CTCAE grade 5.
FATAL_AE_TERMS: tuple[AeTerm, ...] = (
    AeTerm("Hepatic failure", HEPATO, ("Hepatic failure", "Liver failure"), False, {"ANY": 1}),
    AeTerm(
        "Upper gastrointestinal haemorrhage",
        GI,
        ("Upper GI bleeding", "Upper gastrointestinal haemorrhage"),
        False,
        {"ANY": 1},
    ),
)

RELATED_WEIGHTS = {
    "NOT RELATED": 5,
    "UNLIKELY RELATED": 15,
    "POSSIBLY RELATED": 35,
    "PROBABLY RELATED": 30,
    "DEFINITELY RELATED": 15,
}
UNRELATED_WEIGHTS = {"NOT RELATED": 60, "UNLIKELY RELATED": 35, "POSSIBLY RELATED": 5}

# --- laboratory ---------------------------------------------------------------


@dataclass(frozen=True)
class LabTest:
    code: str
    unit: str
    low: str  # LBSTNRLO as sent
    high: str  # LBSTNRHI as sent
    decimals: int
    typical: float  # centre of a typical HCC patient's value
    spread: float  # relative between-subject spread (log scale)


# AFP upper limit 20 ng/mL: the marker rule's "normalised" threshold.
AFP_ULN = 20.0
LAB_TESTS: tuple[LabTest, ...] = (
    LabTest("AFP", "ng/mL", "0", "20", 1, 0, 0),  # AFP follows the tumour, see subject.py
    LabTest("ALT", "U/L", "9", "50", 0, 42, 0.45),
    LabTest("AST", "U/L", "15", "40", 0, 48, 0.45),
    LabTest("BILI", "umol/L", "3.4", "20.5", 1, 15, 0.35),
    LabTest("ALB", "g/L", "40", "55", 1, 37, 0.10),
    LabTest("PLAT", "10^9/L", "125", "350", 0, 150, 0.35),
    LabTest("INR", "RATIO", "0.8", "1.2", 2, 1.08, 0.08),
)

# --- baseline disease characteristics (SC) ------------------------------------

SC_TESTS = {
    "ECOG": "ECOG Performance Status",
    "CHILDPGH": "Child-Pugh Class",
    "BCLC": "BCLC Stage",
    "ETIOLOGY": "Liver Disease Etiology",
    "PRIORSYS": "Prior Systemic Therapy",
    "MVI": "Macrovascular Invasion",
    "EHS": "Extrahepatic Spread",
}

# Prior systemic therapy depends on the line of therapy, which the study file
# does not say; known demo studies get a profile, others "NONE" mostly.
PRIOR_SYSTEMIC = {
    "HCC-REGO-PD1": {"SORAFENIB": 6, "LENVATINIB": 4},  # 2nd line after a TKI
    "HCC-SURU-SC": {"NONE": 7, "SORAFENIB": 2, "LENVATINIB": 1},
}
DEFAULT_PRIOR_SYSTEMIC = {"NONE": 8, "SORAFENIB": 1, "LENVATINIB": 1}

# --- tumour locations -----------------------------------------------------------

# (TULOC, weight as an additional target organ, diameter range mm at baseline)
TARGET_SITES = (
    ("LIVER", 6, (15, 95)),
    ("LUNG", 3, (10, 32)),
    ("LYMPH NODE", 2, (15, 32)),  # short axis; >= 15 mm to be a target node
    ("PERITONEUM", 1, (12, 40)),
    ("ADRENAL GLAND", 1, (12, 40)),
)
NONTARGET_SITES = (("LIVER", 4), ("PORTAL VEIN", 3), ("BONE", 2), ("LUNG", 2), ("PERITONEUM", 1))
NEW_LESION_SITES = (("LIVER", 4), ("LUNG", 3), ("BONE", 2), ("LYMPH NODE", 1))

# --- single-cell ---------------------------------------------------------------

# (CPTESTCD, CPTEST, baseline share, on-treatment multiplier): an anti-angiogenic
# TKI prunes vessels (fewer endothelial cells) and lets T cells in.
CELL_TYPES = (
    ("TUMOR", "Tumor Cells", 0.34, 0.80),
    ("ENDOTH", "Vascular Endothelial Cells", 0.09, 0.50),
    ("MONO", "Monocytes", 0.06, 1.00),
    ("MACRO", "Macrophages", 0.12, 1.10),
    ("MAST", "Mast Cells", 0.015, 1.00),
    ("TCELL", "T Cells", 0.19, 1.45),
    ("BCELL", "B Cells", 0.05, 1.10),
    ("DC", "Dendritic Cells", 0.02, 1.10),
    ("NEUTRO", "Neutrophils", 0.03, 0.90),
    ("OTHER", "Other Cells", 0.085, 1.00),
)

# Gene -> {cell type: typical LOG1P CPM where it is a marker}, and the
# on-treatment shift (added, in the marker cell types only).
GENE_PANEL: dict[str, tuple[dict[str, float], float]] = {
    "VEGFA": ({"TUMOR": 4.2, "MACRO": 2.5}, 0.3),
    "KDR": ({"ENDOTH": 5.5}, -0.8),
    "FLT1": ({"ENDOTH": 5.0}, -0.6),
    "FLT4": ({"ENDOTH": 3.8}, -0.4),
    "PECAM1": ({"ENDOTH": 6.0}, -0.2),
    "CDH5": ({"ENDOTH": 5.6}, -0.2),
    "ANGPT2": ({"ENDOTH": 4.5}, -0.9),
    "ESM1": ({"ENDOTH": 4.0}, -1.0),
    "PLVAP": ({"ENDOTH": 5.2}, -0.7),
    "PDGFRB": ({"OTHER": 4.5, "ENDOTH": 2.0}, -0.3),
    "FGFR1": ({"OTHER": 3.2, "ENDOTH": 2.2}, -0.2),
    "COL1A1": ({"OTHER": 5.5}, 0.0),
    "CSF1R": ({"MACRO": 5.0, "MONO": 3.8}, -0.3),
    "CD68": ({"MACRO": 5.8, "MONO": 4.2}, 0.0),
    "CD163": ({"MACRO": 5.0}, -0.2),
    "SPP1": ({"MACRO": 4.8}, -0.5),
    "TREM2": ({"MACRO": 4.2}, -0.3),
    "CD14": ({"MONO": 5.6, "MACRO": 3.5}, 0.0),
    "S100A8": ({"NEUTRO": 6.2, "MONO": 4.8}, 0.0),
    "CSF3R": ({"NEUTRO": 5.0}, 0.0),
    "TPSAB1": ({"MAST": 6.5}, 0.0),
    "KIT": ({"MAST": 4.8}, 0.0),
    "CD3E": ({"TCELL": 5.2}, 0.1),
    "CD8A": ({"TCELL": 4.6}, 0.5),
    "CD4": ({"TCELL": 3.6, "MACRO": 2.0}, 0.0),
    "GZMB": ({"TCELL": 4.0}, 0.7),
    "PRF1": ({"TCELL": 3.8}, 0.5),
    "IFNG": ({"TCELL": 2.6}, 0.6),
    "PDCD1": ({"TCELL": 3.0}, 0.3),
    "CTLA4": ({"TCELL": 2.4}, 0.2),
    "HAVCR2": ({"TCELL": 2.2, "MACRO": 2.6}, 0.2),
    "FOXP3": ({"TCELL": 2.0}, -0.2),
    "CD274": ({"TUMOR": 1.6, "MACRO": 2.4, "DC": 2.6}, 0.4),
    "CXCL9": ({"MACRO": 3.4, "DC": 3.0}, 0.8),
    "CXCL10": ({"MACRO": 3.2, "DC": 2.8}, 0.7),
    "MS4A1": ({"BCELL": 5.4}, 0.0),
    "CLEC9A": ({"DC": 4.2}, 0.1),
    "AFP": ({"TUMOR": 4.5}, -0.6),
    "GPC3": ({"TUMOR": 5.0}, -0.3),
    "MKI67": ({"TUMOR": 2.8, "TCELL": 1.2}, -0.5),
}
