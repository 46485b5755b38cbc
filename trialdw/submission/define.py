"""define.xml (CDISC Define-XML 2.1) of one study's ADaM datasets, and its HTML rendering.

Built with odmlib's Define-XML 2.1 model (``odmlib.define_2_1``) from two
sources only: the dbt yml metadata (labels, descriptions, tests: see
``trialdw.submission.metadata``) and the study's rows in the published file
(lengths, codelist values, parameters: ``trialdw.submission.facts``).

What goes where:
- ItemGroupDef per dataset: label, def:Class/def:SubClass, def:Structure, keys
  (ItemRef KeySequence), def:leaf pointing at the dataset's XPT file
  (``../xpt/<table>.xpt``, the transport file a reviewer opens).
- ItemDef per variable: label, DataType (text, integer, float; DATE columns are
  SAS dates in the XPT: integer with def:DisplayFormat DATE9.), Length (text:
  longest value in bytes; numbers: 8, the SAS storage length), SignificantDigits
  for floats, SASFieldName, def:Origin.
- Origin: ``Predecessor`` when the description starts with the source variable
  ("DM.SEX as sent."), else ``Derived`` with a MethodDef whose text is the
  column's dbt description.
- CodeList for every variable whose yml has an accepted_values test (the tested
  values, then any other value present) and for PARAMCD (decoded by PARAM).
- Value-level metadata: in every dataset with PARAMCD (ADRS, ADTTE, ADCP), AVALC
  and AVAL get a ValueListDef with one ItemRef per PARAMCD present, each with a
  WhereClauseDef ``PARAMCD EQ <code>``, its own length and (AVALC) codelist.

``unresolved_references`` checks that every OID reference points at a
definition; the tests run it and the Define-XML 2.1 XML schema on every file.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from trialdw.submission.facts import PARAMCD, DatasetFacts, VariableFacts

DEFINE_VERSION = "2.1.0"
ADAMIG = ("ADaMIG", "1.3")  # the ADaM implementation guide the datasets follow
STANDARD_OID = "STD.ADAMIG.1.3"
NUMERIC_LENGTH = 8  # SAS numeric storage length in the XPT
_OID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_SUBJECT_LEVEL = "SUBJECT LEVEL ANALYSIS DATASET"


def _oid(*parts: str) -> str:
    return ".".join(_OID_UNSAFE.sub("_", str(p)) for p in parts)


def _text(DEF, text: str):
    return DEF.Description(TranslatedText=[DEF.TranslatedText(_content=text, lang="en")])


def _data_type(variable: VariableFacts) -> str:
    return {"text": "text", "integer": "integer", "float": "float", "date": "integer"}[variable.kind]


def _item_def(DEF, oid: str, name: str, label: str, variable: VariableFacts, origin, codelist: str | None, vlm=None):
    kwargs = {
        "OID": oid,
        "Name": name,
        "DataType": _data_type(variable),
        "SASFieldName": name,
        "Description": _text(DEF, label),
        "Origin": [origin],
    }
    if variable.kind == "text":
        kwargs["Length"] = variable.length or 1
    else:
        kwargs["Length"] = NUMERIC_LENGTH
    if variable.kind == "float":
        kwargs["SignificantDigits"] = variable.decimals or 0
    if variable.kind == "date":
        kwargs["DisplayFormat"] = "DATE9."
    if codelist:
        kwargs["CodeListRef"] = DEF.CodeListRef(CodeListOID=codelist)
    if vlm:
        kwargs["ValueListRef"] = DEF.ValueListRef(ValueListOID=vlm)
    return DEF.ItemDef(**kwargs)


def _codelist(DEF, oid: str, name: str, variable: VariableFacts, decodes: dict | None = None):
    data_type = "integer" if variable.kind == "integer" else "text"
    values = [str(v) for v in variable.values]
    if decodes and all(decodes.get(v) for v in values):
        items = {
            "CodeListItem": [
                DEF.CodeListItem(
                    CodedValue=v,
                    OrderNumber=i,
                    Decode=DEF.Decode(TranslatedText=[DEF.TranslatedText(_content=decodes[v], lang="en")]),
                )
                for i, v in enumerate(values, 1)
            ]
        }
    else:
        items = {"EnumeratedItem": [DEF.EnumeratedItem(CodedValue=v, OrderNumber=i) for i, v in enumerate(values, 1)]}
    return DEF.CodeList(OID=oid, Name=name, DataType=data_type, **items)


class _Builder:
    """Collects the MetaDataVersion's definitions while walking the datasets."""

    def __init__(self, DEF):
        self.DEF = DEF
        self.item_groups, self.items, self.codelists, self.methods = [], [], [], []
        self.value_lists, self.where_clauses = [], []
        self.defined: set[str] = set()  # OIDs of the methods and where clauses already made

    def origin(self, column, method_oid: str):
        """(def:Origin, MethodOID or None) of a variable."""
        DEF = self.DEF
        source = column.predecessor if column else None
        if source:
            return DEF.Origin(Type="Predecessor", Description=_text(DEF, source)), None
        if method_oid not in self.defined:
            self.defined.add(method_oid)
            description = (column.description if column else None) or "Derived by the warehouse (no description)."
            name = f"Algorithm to derive {method_oid.removeprefix('MT.')}"
            self.methods.append(
                DEF.MethodDef(OID=method_oid, Name=name, Type="Computation", Description=_text(DEF, description))
            )
        return DEF.Origin(Type="Derived"), method_oid

    def dataset(self, facts: DatasetFacts) -> None:
        DEF, meta, ds = self.DEF, facts.meta, facts.dataset
        item_refs = []
        decodes = {p.paramcd: p.param for p in facts.parameters}
        for order, variable in enumerate(facts.variables, 1):
            column = meta.columns.get(variable.name)
            label = (column.label if column else None) or variable.name
            item_oid = _oid("IT", ds, variable.name)
            origin, method = self.origin(column, _oid("MT", ds, variable.name))
            codelist = None
            if variable.values:
                codelist = _oid("CL", ds, variable.name)
                self.codelists.append(
                    _codelist(DEF, codelist, f"{label} ({ds})", variable, decodes if variable.name == PARAMCD else None)
                )
            vlm = self.value_list(facts, variable, label, origin, method)
            self.items.append(_item_def(DEF, item_oid, variable.name, label, variable, origin, codelist, vlm))
            ref = {
                "ItemOID": item_oid,
                "OrderNumber": order,
                "Mandatory": "Yes" if (variable.name in meta.keys or (column and column.not_null)) else "No",
            }
            if variable.name in meta.keys:
                ref["KeySequence"] = meta.keys.index(variable.name) + 1
            if method:
                ref["MethodOID"] = method
            item_refs.append(DEF.ItemRef(**ref))
        group = {
            "OID": _oid("IG", ds),
            "Name": ds,
            "SASDatasetName": ds,
            "Repeating": "No" if meta.define_class == _SUBJECT_LEVEL else "Yes",
            "IsReferenceData": "No",
            "Purpose": "Analysis",
            "Structure": meta.structure or (meta.description or ds),
            "StandardOID": STANDARD_OID,
            "ArchiveLocationID": _oid("LF", ds),
            "Description": _text(DEF, meta.label or ds),
            "ItemRef": item_refs,
            "leaf": DEF.leaf(
                ID=_oid("LF", ds), href=f"../xpt/{meta.name}.xpt", title=DEF.title(_content=f"{meta.name}.xpt")
            ),
        }
        if meta.define_class:
            sub = [DEF.SubClass(Name=meta.subclass)] if meta.subclass else []
            group["Class"] = DEF.Class(Name=meta.define_class, SubClass=sub)
        self.item_groups.append(DEF.ItemGroupDef(**group))

    def value_list(self, facts: DatasetFacts, variable: VariableFacts, label: str, origin, method) -> str | None:
        """ValueListDef of AVALC/AVAL per PARAMCD present; None when there is none."""
        DEF, ds = self.DEF, facts.dataset
        per_parameter = [(p, p.variables[variable.name]) for p in facts.parameters if variable.name in p.variables]
        if not per_parameter:
            return None
        oid = _oid("VL", ds, variable.name)
        refs = []
        for order, (parameter, facts_p) in enumerate(per_parameter, 1):
            where = _oid("WC", ds, PARAMCD, parameter.paramcd)
            if where not in self.defined:
                self.defined.add(where)
                self.where_clauses.append(
                    DEF.WhereClauseDef(
                        OID=where,
                        RangeCheck=[
                            DEF.RangeCheck(
                                Comparator="EQ",
                                SoftHard="Soft",
                                ItemOID=_oid("IT", ds, PARAMCD),
                                CheckValue=[DEF.CheckValue(_content=parameter.paramcd)],
                            )
                        ],
                    )
                )
            item_oid = _oid("IT", ds, variable.name, parameter.paramcd)
            codelist = None
            if facts_p.values:
                codelist = _oid("CL", ds, variable.name, parameter.paramcd)
                self.codelists.append(_codelist(DEF, codelist, f"{label} ({ds} {parameter.paramcd})", facts_p))
            text = f"{label} where PARAMCD = {parameter.paramcd}" + (f" ({parameter.param})" if parameter.param else "")
            self.items.append(_item_def(DEF, item_oid, variable.name, text, facts_p, origin, codelist))
            ref = {
                "ItemOID": item_oid,
                "OrderNumber": order,
                "Mandatory": "Yes" if facts_p.non_null == parameter.records else "No",
                "WhereClauseRef": [DEF.WhereClauseRef(WhereClauseOID=where)],
            }
            if method:
                ref["MethodOID"] = method
            refs.append(DEF.ItemRef(**ref))
        self.value_lists.append(DEF.ValueListDef(OID=oid, ItemRef=refs))
        return oid


def build_define(study: str, title: str | None, datasets: list[DatasetFacts], created: dt.datetime, version: str):
    """The odmlib ODM object of one study's define.xml (datasets in the given order)."""
    import odmlib.define_2_1.model as DEF

    builder = _Builder(DEF)
    for facts in datasets:
        builder.dataset(facts)
    mdv = DEF.MetaDataVersion(
        OID=_oid("MDV", study, "ADaM"),
        Name=f"{study} ADaM metadata",
        Description=f"ADaM datasets of {study} as published by trialdw",
        DefineVersion=DEFINE_VERSION,
        Standards=DEF.Standards(
            Standard=[DEF.Standard(OID=STANDARD_OID, Name=ADAMIG[0], Type="IG", Version=ADAMIG[1], Status="Final")]
        ),
        ValueListDef=builder.value_lists,
        WhereClauseDef=builder.where_clauses,
        ItemGroupDef=builder.item_groups,
        ItemDef=builder.items,
        CodeList=builder.codelists,
        MethodDef=builder.methods,
    )
    stamp = created.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return DEF.ODM(
        FileOID=_oid("DEFINE", study, stamp.replace(":", "")),
        FileType="Snapshot",
        CreationDateTime=stamp,
        ODMVersion="1.3.2",
        Originator="trialdw",
        SourceSystem="trialdw",
        SourceSystemVersion=version,
        Context="Submission",
        Study=DEF.Study(
            OID=study_oid(study),
            GlobalVariables=DEF.GlobalVariables(
                StudyName=DEF.StudyName(_content=study),
                StudyDescription=DEF.StudyDescription(_content=title or study),
                ProtocolName=DEF.ProtocolName(_content=study),
            ),
            MetaDataVersion=mdv,
        ),
    )


def study_oid(study: str) -> str:
    return _oid("STUDY", study)


def metadata_version_oid(study: str) -> str:
    return _oid("MDV", study, "ADaM")


def item_group_oid(table: str) -> str:
    return _oid("IG", table.upper())


def item_oid(table: str, column: str) -> str:
    return _oid("IT", table.upper(), column)


def write_define(folder: Path, study: str, title: str | None, datasets: list[DatasetFacts], created, version) -> Path:
    """``folder/define.xml`` and its rendering ``folder/define.html``."""
    folder.mkdir(parents=True, exist_ok=True)
    from lxml import etree

    path = folder / "define.xml"
    odm = build_define(study, title, datasets, created, version)
    # odmlib writes one long line; indented, the file reads and diffs like a document.
    tree = etree.fromstring(odm.to_xml_string().encode("utf-8"))
    path.write_bytes(etree.tostring(tree, pretty_print=True, xml_declaration=True, encoding="UTF-8"))
    write_html(path, folder / "define.html")
    return path


# ------------------------------------------------------------------- HTML

STYLESHEET = "define2-1.xsl"


def stylesheet_path() -> Path:
    """The CDISC Define-XML 2.1 stylesheet that defineutils ships (MIT, Lex Jansen).

    Found, not imported: the package's ``__init__`` imports its validator, and
    with it xmlschema (~0.2 s of every night's exports), for a file path."""
    import importlib.util

    spec = importlib.util.find_spec("defineutils")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("defineutils (the Define-XML stylesheet) is not installed")
    return Path(spec.origin).parent / "definehtml" / STYLESHEET


def write_html(define_xml: Path, html: Path) -> Path:
    """Render define.xml with the CDISC stylesheet (lxml XSLT, offline).

    XSLT writes every text node escaped, so values from the data (codelist
    values, PARAM texts) cannot become markup; the stylesheet's only unescaped
    output is its own JavaScript. Nothing is fetched: the page's links point at
    the XPT files beside it."""
    from lxml import etree

    transform = etree.XSLT(etree.parse(str(stylesheet_path())))
    result = transform(etree.parse(str(define_xml)))
    html.write_bytes(etree.tostring(result, pretty_print=True, method="html", encoding="utf-8"))
    return html


# ------------------------------------------------------------- references

_NS = {
    "odm": "http://www.cdisc.org/ns/odm/v1.3",
    "def": "http://www.cdisc.org/ns/def/v2.1",
}
# (referencing element, attribute) → element kinds the OID must name
_REFERENCES = {
    ("odm:ItemRef", "ItemOID"): ("odm:ItemDef",),
    ("odm:ItemRef", "MethodOID"): ("odm:MethodDef",),
    ("odm:CodeListRef", "CodeListOID"): ("odm:CodeList",),
    ("def:ValueListRef", "ValueListOID"): ("def:ValueListDef",),
    ("def:WhereClauseRef", "WhereClauseOID"): ("def:WhereClauseDef",),
    ("odm:RangeCheck", "{http://www.cdisc.org/ns/def/v2.1}ItemOID"): ("odm:ItemDef",),
    ("odm:ItemGroupDef", "{http://www.cdisc.org/ns/def/v2.1}StandardOID"): ("def:Standard",),
    ("odm:ItemGroupDef", "{http://www.cdisc.org/ns/def/v2.1}ArchiveLocationID"): ("def:leaf",),
}


def unresolved_references(define_xml: Path) -> list[str]:
    """Every OID reference of the file that names no definition of the right kind
    (empty: the cross-references resolve), plus definitions defined twice."""
    from lxml import etree

    tree = etree.parse(str(define_xml))
    defined: dict[str, set[str]] = {}
    problems = []
    for kinds in _REFERENCES.values():
        for kind in kinds:
            attribute = "ID" if kind == "def:leaf" else "OID"
            oids = [e.get(attribute) for e in tree.iterfind(f".//{kind}", _NS)]
            if len(oids) != len(set(oids)):
                problems.append(f"{kind}: duplicate OIDs")
            defined[kind] = set(oids)
    for (element, attribute), kinds in _REFERENCES.items():
        for node in tree.iterfind(f".//{element}", _NS):
            value = node.get(attribute)
            if value is not None and not any(value in defined[k] for k in kinds):
                problems.append(f"{element}/@{attribute.split('}')[-1]}={value!r} names no {'/'.join(kinds)}")
    return problems
