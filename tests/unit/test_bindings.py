"""bindings.py: which certificate is which client (R-11), and what check-config says of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfemployed_gateway.annex import Annex
from selfemployed_gateway.bindings import (
    CertificateBinding,
    binding_problems,
    load_bindings,
    name_key,
)
from selfemployed_gateway.dataset import Dataset
from selfemployed_gateway.errors import ConfigurationError
from selfemployed_gateway.records import ClientCertificate

SUBJECT = "CN=cpas-namur,O=CPAS de Namur,C=BE"
ISSUER = "CN=Trusted CA,O=Trust Services,C=BE"
OTHER_ISSUER = "CN=Other CA,O=Trust Services,C=BE"
PRINT = "ab" * 32


def presented(
    subject: str = SUBJECT,
    issuer: str | None = ISSUER,
    sha256: str = PRINT,
    unfit: str | None = None,
) -> ClientCertificate:
    return ClientCertificate(
        subject=subject,
        common_name="cpas-namur",
        serial="01",
        sha256=sha256,
        issuer=issuer,
        unfit_because=unfit,
    )


def test_names_compare_as_x509_names_not_strings() -> None:
    """Case and runs of spaces fold, attribute order inside an RDN does not count, RDN order
    does; the attribute type is its OID whatever the text called it."""
    assert name_key("CN=cpas-namur,O=CPAS de Namur,C=BE") == name_key(
        "cn=CPAS-Namur,o=CPAS  de   namur,c=be"
    )
    assert name_key("CN=a+O=b") == name_key("O=b+CN=a")
    assert name_key("CN=a,O=b") != name_key("O=b,CN=a")
    assert name_key("2.5.4.3=cpas-namur") == name_key("CN=cpas-namur")
    assert name_key("not a name") is None


@pytest.mark.parametrize(
    "look_alike",
    ["CN=cpa\u017f-namur", "CN=cpas\u00a0-namur", "CN=cpas\x1f-namur", "CN=cpas-namur\u2003"],
)
def test_a_look_alike_name_is_another_name(look_alike: str) -> None:
    """Unicode folding would let "ſ" (U+017F) be "s", NBSP or a control character be a space."""
    assert name_key(look_alike) != name_key("CN=cpas-namur")


@pytest.mark.parametrize(
    ("certificate", "expected"),
    [
        (presented(), True),
        (presented(subject="CN=cpas-namur,O=Someone Else,C=BE"), False),
        (presented(subject="CN=cpas-namur"), False),  # a CN-only subject
        (presented(issuer=OTHER_ISSUER), False),  # same subject, another trusted CA
        (presented(issuer=None), False),
        (presented(sha256="cd" * 32), False),  # not a pinned certificate
    ],
)
def test_a_binding_needs_subject_issuer_and_pinned_print(
    certificate: ClientCertificate, expected: bool
) -> None:
    binding = CertificateBinding(subject=SUBJECT, issuer=ISSUER, sha256=(PRINT, "ef" * 32))
    assert binding.matches(certificate) is expected


def test_without_pins_any_print_of_subject_and_issuer_matches() -> None:
    binding = CertificateBinding(subject=SUBJECT, issuer=ISSUER)
    assert binding.matches(presented(sha256="cd" * 32))


def test_fingerprints_may_be_written_with_colons_in_either_case() -> None:
    written = ":".join(["AB"] * 32)
    assert CertificateBinding(subject=SUBJECT, issuer=ISSUER, sha256=(written,)).sha256 == (PRINT,)
    with pytest.raises(ValueError, match="SHA-256"):
        CertificateBinding(subject=SUBJECT, issuer=ISSUER, sha256=("abc",))


def test_annex_identifies_by_binding_only(dataset: Dataset) -> None:
    """With bindings, a certificate whose CN is a client id identifies nobody unbound."""
    annex = Annex.from_dataset(
        dataset, {"cpas-namur": CertificateBinding(subject=SUBJECT, issuer=ISSUER)}
    )
    assert [c.id for c in annex.presented_by(presented())] == ["cpas-namur"]
    by_cn = presented(subject="CN=famifund-east", issuer=ISSUER)
    assert annex.presented_by(by_cn) == []


@pytest.mark.parametrize("bound", [False, True], ids=["fallback", "bound"])
def test_an_unfit_certificate_identifies_nobody(dataset: Dataset, bound: bool) -> None:
    """A CA certificate, or one without clientAuth, is never a client (R-11), bound or not."""
    binding = CertificateBinding(subject=SUBJECT, issuer=ISSUER)
    annex = Annex.from_dataset(dataset, {"cpas-namur": binding} if bound else None)
    unfit = presented(unfit="a CA certificate (basicConstraints CA:TRUE)")
    assert annex.presented_by(unfit) == []
    fallback = unfit.model_copy(update={"subject": "CN=cpas-namur"})
    assert annex.presented_by(fallback) == []


def test_check_config_reports_ambiguous_missing_and_unknown_bindings() -> None:
    same = CertificateBinding(subject=SUBJECT, issuer=ISSUER)
    pinned = CertificateBinding(subject=SUBJECT, issuer=ISSUER, sha256=(PRINT,))
    apart = CertificateBinding(subject=SUBJECT, issuer=ISSUER, sha256=("cd" * 32,))
    problems = binding_problems({"a": same, "b": pinned, "ghost": apart}, ["a", "b", "c"])
    assert problems == [
        "client c: no certificate binding: it can never be identified (MSG00015)",
        "tls.client_bindings: [ghost]: no client 'ghost' in the annex",
        f"tls.client_bindings: [a] and [b]: one certificate ({SUBJECT!r} issued by "
        f"{ISSUER!r}) would identify both: pin distinct sha256 fingerprints or give them "
        "distinct subjects",
        f"tls.client_bindings: [a] and [ghost]: one certificate ({SUBJECT!r} issued by "
        f"{ISSUER!r}) would identify both: pin distinct sha256 fingerprints or give them "
        "distinct subjects",
    ]
    assert binding_problems({"b": pinned, "ghost": apart}, ["b", "ghost"]) == []


def test_without_bindings_every_client_binds_by_common_name() -> None:
    assert binding_problems(None, ["a"]) == [
        "client a: no certificate binding (tls.client_bindings unset): any certificate of "
        "any trusted CA with this common name would identify it"
    ]


def test_a_bad_bindings_file_names_the_file_and_the_client(tmp_path: Path) -> None:
    path = tmp_path / "bindings.toml"
    path.write_text('[cpas-namur]\nsubject = "CN=x"\nissuer = "nonsense"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"bindings.toml: \[cpas-namur\]: issuer"):
        load_bindings(path)
    path.write_text('[cpas-namur]\nsubject = "CN=x"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"\[cpas-namur\]: issuer: Field required"):
        load_bindings(path)
