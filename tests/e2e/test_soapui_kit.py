"""The tester kit for SoapUI users, replayed against the live gateway.

`tests/soapui/SelfEmployedV2-soapui-project.xml` is a SoapUI 5.x project with one test case per
status or fault code case of the annex and per answer of the SOAP 1.1 envelope rules (R-27) and
the admission limits (R-28); `examples/` holds the same requests as files for curl. Here every
test case is sent as SoapUI would send it (its request steps in order, each with its operation's
SOAPAction and the client certificate named by the property `clientCertificate`, taken from the
PKCS#12 bundle SoapUI uses) and every assertion is evaluated as SoapUI evaluates it:

- `XPath Match`: the XPath (after its `declare namespace` lines) selects at least one node, and
  one of them has the expected `content` (element: its text; attribute: its value); or it is a
  `count(…)`, whose number is the expected `content`;
- `Not SOAP Fault Assertion` — SoapUI's id of the check that the answer IS a SOAP fault: HTTP 500
  with a `soapenv:Fault`; `SOAP Fault Assertion`, the check that it is NOT: HTTP 200 without;
- `Schema Compliance`: the Body's payload is valid against `xsd/SelfEmployedV2.xsd`;
- `Script Assertion` (Groovy): only the scripts of `KNOWN_SCRIPTS`, word for word, each with its
  Python equivalent (the Retry-After header of R-28).

The kit cannot rot: every code of the annex (but MSG00025, transitional phase only) must have a
test case, and so must each answer of R-27 and R-28 (`RULE_CASES`); every request must be the
one of its example file, and the project's cached WSDL and XSDs must be what the gateway serves.
A test case that needs another gateway than `make run`'s says so in its property `gatewaySetup`
and is disabled; examples/README.md tells how to start that gateway, and the replay starts it.
"""

from __future__ import annotations

import json
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from lxml import etree

from selfemployed_gateway import codes
from selfemployed_gateway.configuration import ENVIRONMENT_OVERRIDES
from selfemployed_gateway.dataset import load_dataset
from selfemployed_gateway.devpki import PKCS12_PASSWORD, STRANGER, DevPki
from selfemployed_gateway.soap.contract import XSD_FILES
from selfemployed_gateway.xmlsafe import XmlSchema
from tests.e2e.conftest import DATASET, GatewayFactory, tls_context
from tests.support.processes import PROJECT, Server
from tests.support.soap import ACTION, SES, SOAP_ENV

KIT = PROJECT / "tests" / "soapui" / "SelfEmployedV2-soapui-project.xml"
EXAMPLES = PROJECT / "examples"
CON = "http://eviware.com/soapui/config"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = {"con": CON}
WSDL = {"wsdl": "http://schemas.xmlsoap.org/wsdl/", "soap": "http://schemas.xmlsoap.org/wsdl/soap/"}
#: The endpoint of `make run`, as written in the kit; replaced by the test gateway's URL.
KIT_ENDPOINT = "https://127.0.0.1:4520/SelfEmployedService/v2/consult"
BINDING = f"{{{SES}}}SelfEmployedServiceHTTPBinding"
OPERATIONS = ("consultCareer", "consultContributions")
#: SoapUI's assertion type ids (the two SOAP fault ids are swapped in SoapUI itself).
XPATH_MATCH = "XPath Match"
SCHEMA_COMPLIANCE = "Schema Compliance"
IS_SOAP_FAULT = "Not SOAP Fault Assertion"
IS_NOT_SOAP_FAULT = "SOAP Fault Assertion"
SCRIPT = "GroovyScriptAssertion"
KNOWN_ASSERTIONS = {XPATH_MATCH, SCHEMA_COMPLIANCE, IS_SOAP_FAULT, IS_NOT_SOAP_FAULT, SCRIPT}
#: The Groovy of each Script Assertion the replay evaluates, and its Python equivalent.
RETRY_AFTER_SCRIPT = "\n".join(
    (
        "// R-28: the refusal says when to retry (HTTP header Retry-After, in seconds)",
        "def headers = messageExchange.responseHeaders",
        "def retryAfter = headers.find { it.key.equalsIgnoreCase('Retry-After') }?.value",
        f"assert retryAfter == ['{codes.RETRY_AFTER_SECONDS}']",
    )
)
KNOWN_SCRIPTS: dict[str, Callable[[httpx.Response], bool]] = {
    RETRY_AFTER_SCRIPT: lambda response: (
        response.headers.get_list("Retry-After") == [str(codes.RETRY_AFTER_SECONDS)]
    ),
}
#: Codes of the annex that need another gateway than the development one.
NOT_IN_THE_KIT = {codes.NOT_AVAILABLE.code}  # MSG00025: transitional phase only
#: SOAP's own faults (no reasonCode, no detail), by their faultcode: R-27.
SOAP_OWN_FAULTS = {codes.MUST_UNDERSTAND.origin.value: codes.MUST_UNDERSTAND.code}
#: Test cases whose gateway is not the development one, by their `gatewaySetup` property, and
#: the command examples/README.md gives to start it.
INCONSISTENT_ANNEX = "inconsistent-annex"
CLIENT_RATE_LIMIT = "client-rate-limit"
GATEWAY_COMMANDS = {
    INCONSISTENT_ANNEX: "SEG_DATASET=var/inconsistent-annex.json make run",
    # a bucket of one request per second: of two sent back to back, the second is refused.
    CLIENT_RATE_LIMIT: "SEG_LIMIT_CLIENT_RATE=1 SEG_LIMIT_CLIENT_BURST=1 make run",
}
#: Request steps per test case, by `gatewaySetup` (one otherwise): each sends the example file.
STEPS = {CLIENT_RATE_LIMIT: 2}
SERVICE_XSD = XmlSchema.from_file(PROJECT / "xsd" / "SelfEmployedV2.xsd")
_DECLARE = re.compile(r"declare\s+namespace\s+([\w.-]+)\s*=\s*(['\"])(.*?)\2\s*;")


@dataclass(frozen=True)
class RuleCase:
    """An answer of R-27 or R-28 the kit must show: its fault and its information."""

    rule: str
    fault: codes.FaultCode
    field_value: str | None  # the information's fieldValue (None: SOAP's own fault, no detail)
    setup: str | None = None  # its `gatewaySetup`


#: The gateway's texts (tests/e2e/test_soap_service.py, test_admission.py; soap/envelope.py).
RULE_CASES = {
    "consultCareer-MSG00004-header-after-body": RuleCase(
        "R-27", codes.INVALID_STRUCTURE, "The Header must be the first child of the Envelope"
    ),
    "consultCareer-MSG00004-two-headers": RuleCase(
        "R-27", codes.INVALID_STRUCTURE, "At most one Header is allowed in a SOAP 1.1 envelope"
    ),
    "consultCareer-MSG00004-two-body-children": RuleCase(
        "R-27",
        codes.INVALID_STRUCTURE,
        "The SOAP Body must hold exactly one request element, not 2",
    ),
    "consultCareer-MustUnderstand": RuleCase("R-27", codes.MUST_UNDERSTAND, None),
    "consultCareer-MSG00003-client-rate": RuleCase(
        "R-28", codes.INTERNAL_ERROR, codes.TOO_MANY_FOR_CLIENT, setup=CLIENT_RATE_LIMIT
    ),
}


@dataclass(frozen=True)
class Assertion:
    type: str
    name: str
    path: str | None = None
    content: str | None = None
    allow_wildcards: bool = False


@dataclass(frozen=True)
class KitStep:
    """One request step of a test case."""

    name: str
    request_name: str
    interface: str
    operation: str
    endpoint: str
    ssl_keystore: str | None
    request: str
    assertions: tuple[Assertion, ...]

    @property
    def asserted_codes(self) -> set[str]:
        """The codes its XPath Match assertions expect in status/code or reasonCode, and
        SOAP's own fault codes (R-27) they expect in faultcode."""
        found: set[str] = set()
        for a in self.assertions:
            if a.type != XPATH_MATCH or a.content is None or a.path is None:
                continue
            if re.search(r"(status/code|/reasonCode)\s*$", a.path):
                found.add(a.content)
            elif re.search(r"/faultcode\s*$", a.path) and a.content in SOAP_OWN_FAULTS:
                found.add(SOAP_OWN_FAULTS[a.content])
        return found

    def expected(self, leaf: str) -> list[str]:
        """The contents its XPath Match assertions expect at paths ending with `leaf`."""
        return [
            a.content
            for a in self.assertions
            if a.type == XPATH_MATCH
            and a.content is not None
            and a.path is not None
            and a.path.rstrip().endswith(leaf)
        ]


@dataclass(frozen=True)
class KitCase:
    """One SoapUI test case: its request steps, in order, and its properties."""

    name: str
    disabled: bool
    description: str
    properties: dict[str, str]
    steps: tuple[KitStep, ...]

    @property
    def client(self) -> str:
        return self.properties["clientCertificate"]

    @property
    def operation(self) -> str:
        return self.steps[0].operation

    @property
    def answer(self) -> KitStep:
        """The step whose answer the test case is about: the last (those before prepare it)."""
        return self.steps[-1]

    @property
    def asserted_codes(self) -> set[str]:
        return self.answer.asserted_codes


def _text(element: etree._Element, path: str) -> str:
    found = element.find(path, NS)
    assert found is not None, f"{element.get('name')}: no {path}"
    return found.text or ""


def _assertion(element: etree._Element) -> Assertion:
    kind = element.get("type", "")
    name = element.get("name", kind)
    if kind not in (XPATH_MATCH, SCRIPT):
        return Assertion(kind, name)
    configuration = element.find("con:configuration", NS)
    assert configuration is not None, name
    if kind == SCRIPT:
        return Assertion(kind, name, content=configuration.findtext("scriptText"))
    return Assertion(
        kind,
        name,
        path=configuration.findtext("path"),
        content=configuration.findtext("content"),
        allow_wildcards=configuration.findtext("allowWildcards", "false").strip() == "true",
    )


def load_kit() -> tuple[etree._Element, list[KitCase]]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    root = etree.parse(str(KIT), parser).getroot()
    cases = []
    for test_case in root.iterfind("con:testSuite/con:testCase", NS):
        steps = test_case.findall("con:testStep", NS)
        assert steps, f"{test_case.get('name')}: no test step"
        cases.append(
            KitCase(
                name=test_case.get("name", ""),
                disabled=test_case.get("disabled") == "true",
                description=test_case.findtext("con:description", "", NS),
                properties={
                    _text(p, "con:name"): p.findtext("con:value", "", NS)
                    for p in test_case.iterfind("con:properties/con:property", NS)
                },
                steps=tuple(_step(test_case, step) for step in steps),
            )
        )
    return root, cases


def _step(test_case: etree._Element, step: etree._Element) -> KitStep:
    assert step.get("type") == "request", f"{test_case.get('name')}: {step.get('type')} step"
    assert step.get("disabled") != "true", f"{test_case.get('name')}: a disabled step"
    config = step.find("con:config", NS)
    assert config is not None
    request = config.find("con:request", NS)
    assert request is not None
    return KitStep(
        name=step.get("name", ""),
        request_name=request.get("name", ""),
        interface=_text(config, "con:interface"),
        operation=_text(config, "con:operation"),
        endpoint=_text(request, "con:endpoint"),
        ssl_keystore=request.get("sslKeystore"),
        request=_text(request, "con:request"),
        assertions=tuple(_assertion(a) for a in request.iterfind("con:assertion", NS)),
    )


PROJECT_ROOT, CASES = load_kit()


# --- the project file ----------------------------------------------------------------------


def test_project_is_a_soapui_project_on_the_wsdl_interface() -> None:
    assert PROJECT_ROOT.tag == f"{{{CON}}}soapui-project"
    (interface,) = PROJECT_ROOT.findall("con:interface", NS)
    assert interface.get(f"{{{XSI}}}type") == "con:WsdlInterface"
    assert interface.get("type") == "wsdl"
    assert interface.get("bindingName") == BINDING
    assert interface.get("soapVersion") == "1_1"
    assert interface.get("definition") == KIT_ENDPOINT + "?wsdl"
    assert [e.text for e in interface.iterfind("con:endpoints/con:endpoint", NS)] == [KIT_ENDPOINT]
    wsdl = etree.parse(str(PROJECT / "wsdl" / "SelfEmployedV2.wsdl"))
    actions = {
        operation.get("name"): operation.xpath(
            "string(soap:operation/@soapAction)", namespaces=WSDL
        )
        for operation in wsdl.xpath(
            "/wsdl:definitions/wsdl:binding/wsdl:operation", namespaces=WSDL
        )
    }
    assert (
        {
            operation.get("name"): operation.get("action")
            for operation in interface.iterfind("con:operation", NS)
        }
        == actions
        == {name: ACTION + name for name in OPERATIONS}
    )
    assert len(PROJECT_ROOT.findall("con:testSuite", NS)) == 1


def test_test_cases_are_well_formed() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names)), "test case names must be unique"
    (interface,) = PROJECT_ROOT.findall("con:interface", NS)
    clients = {client.id for client in load_dataset(DATASET).clients} | {STRANGER}
    ids = [  # of the model items (a setting's id names its kind)
        str(i)
        for i in PROJECT_ROOT.xpath("//con:*[@id]/@id", namespaces=NS)
        if not str(i).startswith("com.eviware.")
    ]
    assert len(ids) == len(set(ids)), "model item ids must be unique"
    for case in CASES:
        setup = case.properties.get("gatewaySetup")
        # Disabled in SoapUI exactly when the development gateway cannot answer it.
        assert case.disabled == (setup is not None), case.name
        assert setup is None or setup in GATEWAY_COMMANDS, f"{case.name}: {setup!r}"
        assert setup is None or f"gatewaySetup = {setup}" in case.description, case.name
        assert len(case.steps) == STEPS.get(setup or "", 1), case.name
        assert len({step.name for step in case.steps}) == len(case.steps), case.name
        assert case.name.startswith(case.operation + "-"), case.name
        assert case.client in clients, f"{case.name}: unknown client {case.client!r}"
        assert case.client in case.description, f"{case.name}: description names the client"
        for step in case.steps:
            where = f"{case.name} / {step.name}"
            assert step.request_name == step.name, where
            if len(case.steps) == 1:
                assert step.name == case.name, where
            assert step.interface == interface.get("name"), where
            assert step.operation == case.operation, where
            assert step.operation in OPERATIONS, where
            assert step.endpoint == KIT_ENDPOINT, where
            types = [a.type for a in step.assertions]
            assert set(types) <= KNOWN_ASSERTIONS, f"{where}: not replayed here: {types}"
            # Exactly one fault assertion; Schema Compliance exactly where the answer is no fault.
            fault_checks = [t for t in types if t in (IS_SOAP_FAULT, IS_NOT_SOAP_FAULT)]
            assert len(fault_checks) == 1, where
            assert (SCHEMA_COMPLIANCE in types) == (fault_checks == [IS_NOT_SOAP_FAULT]), where
            for assertion in step.assertions:
                if assertion.type == XPATH_MATCH:
                    assert assertion.path and assertion.content is not None, where
                    assert not assertion.allow_wildcards, f"{where}: {assertion.name}"
                if assertion.type == SCRIPT:
                    assert assertion.content in KNOWN_SCRIPTS, f"{where}: {assertion.name}"
        # The steps before the last prepare its answer: each is answered, MSG00000.
        for step in case.steps[:-1]:
            assert IS_NOT_SOAP_FAULT in [a.type for a in step.assertions], case.name
            assert step.asserted_codes == {codes.DATA_FOUND.code}, case.name
        assert case.asserted_codes == {case.properties["expectedCode"]}, case.name


def test_each_request_uses_the_keystore_of_its_client_certificate() -> None:
    """SoapUI picks the client certificate per request (its `SSL Keystore`) among the
    project's keystores; each must be the bundle of the client named by the test case."""
    keystores = {
        Path(_text(crypto, "con:source")).name: crypto
        for crypto in PROJECT_ROOT.iterfind("con:wssContainer/con:crypto", NS)
    }
    for case in CASES:
        assert {step.ssl_keystore for step in case.steps} == {f"{case.client}.p12"}, case.name
        crypto = keystores[f"{case.client}.p12"]
        assert _text(crypto, "con:source") == f"../../var/pki/clients/{case.client}.p12"
        assert _text(crypto, "con:password") == PKCS12_PASSWORD
        assert _text(crypto, "con:type") == "KEYSTORE"
    assert set(keystores) == {f"{case.client}.p12" for case in CASES}
    assert PROJECT_ROOT.get("resourceRoot") == "${projectDir}"  # sources relative to the kit


def test_every_code_of_the_annex_has_a_test_case() -> None:
    annex = {c.code for c in codes.ALL_STATUS_CODES} | {c.code for c in codes.ALL_FAULT_CODES}
    covered = set().union(*(case.asserted_codes for case in CASES))
    assert covered == (annex - NOT_IN_THE_KIT) | set(SOAP_OWN_FAULTS.values())


@pytest.mark.parametrize("name", sorted(RULE_CASES))
def test_envelope_rules_and_admission_limits_have_test_cases(name: str) -> None:
    """R-27 (a broken SOAP 1.1 envelope: MSG00004; a mandatory header block:
    soapenv:MustUnderstand without detail) and R-28 (a client over its rate: MSG00003 with
    Retry-After) each have their test case, asserting the gateway's exact answer."""
    expected = RULE_CASES[name]
    case = next((case for case in CASES if case.name == name), None)
    assert case is not None, f"no test case {name}"
    assert re.search(rf"^Rules: .*\b{expected.rule}\b", case.description, re.M), name
    assert case.properties.get("gatewaySetup") == expected.setup, name
    step = case.answer
    assert IS_SOAP_FAULT in [a.type for a in step.assertions], name
    assert step.expected("/soapenv:Fault/faultcode") == [expected.fault.origin.value], name
    (faultstring,) = step.expected("/soapenv:Fault/faultstring")
    if expected.field_value is None:  # SOAP's own fault: the diagnostic, naming the block
        assert not expected.fault.detail
        assert faultstring.startswith(expected.fault.diagnostic + ": {"), name
        assert step.expected("count(/soapenv:Envelope/soapenv:Body/soapenv:Fault/detail)") == [
            "0"
        ], f"{name}: no assertion that the fault has no detail"
        assert case.asserted_codes == {expected.fault.code}
    else:
        assert faultstring == expected.fault.faultstring, name
        assert step.expected("/detail/reasonCode") == [expected.fault.code], name
        assert step.expected("/detail/information/fieldValue") == [expected.field_value], name
    has_retry_after = any(a.content == RETRY_AFTER_SCRIPT for a in step.assertions)
    assert has_retry_after == (expected.rule == "R-28"), f"{name}: Retry-After"


def test_each_gateway_setup_is_documented() -> None:
    """Each `gatewaySetup` in use has its `make run` command in examples/README.md, with
    variables the configuration knows (configuration.ENVIRONMENT_OVERRIDES)."""
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    used = {case.properties["gatewaySetup"] for case in CASES if "gatewaySetup" in case.properties}
    assert used == set(GATEWAY_COMMANDS)
    for setup, command in GATEWAY_COMMANDS.items():
        assert command in readme, f"{setup}: examples/README.md does not give {command!r}"
        assert f"`gatewaySetup` = `{setup}`" in readme, setup
        assert set(_environment(command)) <= set(ENVIRONMENT_OVERRIDES), command


def _environment(command: str) -> dict[str, str]:
    """The variables `VAR=value … make run` sets."""
    *assignments, make, target = command.split()
    assert (make, target) == ("make", "run"), command
    return dict(assignment.split("=", 1) for assignment in assignments)


def _envelope_c14n(text: str) -> bytes:
    """The envelope of a request, without comments and indentation, canonical."""
    parser = etree.XMLParser(remove_comments=True, remove_blank_text=True)
    root = etree.fromstring(text.encode(), parser)
    return etree.tostring(root, method="c14n")


def test_requests_are_the_example_files() -> None:
    """examples/ and the kit hold the same requests; each example's top comment names the
    client certificate and the expected code of its test case."""
    referenced = set()
    for case in CASES:
        path = PROJECT / case.properties["exampleFile"]
        assert path.parent == EXAMPLES, case.name
        referenced.add(path.name)
        text = path.read_text(encoding="utf-8")
        for step in case.steps:  # every step sends it
            assert _envelope_c14n(text) == _envelope_c14n(step.request), f"{case.name}/{step.name}"
        comment = re.search(r"<!--(.*?)-->", text, re.S)
        assert comment is not None and text.index("<!--") < text.index("<soapenv:Envelope")
        assert f"Client certificate: {case.client} " in comment.group(1), path.name
        assert case.properties["expectedCode"] in comment.group(1), path.name
        expected_name = (
            "consultCareer-DATA_FOUND.xml"  # the name README.md and `make run` print
            if case.name == "consultCareer-DATA_FOUND"
            else case.name + ".xml"
        )
        assert path.name == expected_name
    assert {p.name for p in EXAMPLES.glob("*.xml")} == referenced


def test_examples_readme_lists_every_case() -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for case in CASES:
        example = Path(case.properties["exampleFile"]).name
        assert f"`{example}`" in readme, example
        assert f"clients/{case.client}.crt" in readme
        assert f"@examples/{example}" in readme, f"no curl command for {example}"


# --- replay against the live gateway --------------------------------------------------------


@pytest.fixture(scope="module")
def bundle_contexts(
    pki: DevPki, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, ssl.SSLContext]:
    """A TLS context per client from its PKCS#12 bundle, the file SoapUI is given."""
    folder = tmp_path_factory.mktemp("from-p12")
    contexts = {}
    for client in {case.client for case in CASES}:
        bundle = pkcs12.load_pkcs12(pki.pkcs12(client).read_bytes(), PKCS12_PASSWORD.encode())
        assert bundle.key is not None and bundle.cert is not None
        pem = folder / f"{client}.pem"
        pem.write_bytes(
            bundle.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            + bundle.cert.certificate.public_bytes(serialization.Encoding.PEM)
        )
        context = ssl.create_default_context(cafile=str(pki.ca.cert))
        context.load_cert_chain(str(pem))
        contexts[client] = context
    return contexts


@pytest.fixture(scope="module")
def inconsistent_annex(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference dataset, except that riziv-medical filters an element that does not exist
    (R-14): what examples/README.md tells to run for the MSG00003 test case."""
    raw = json.loads(DATASET.read_text(encoding="utf-8"))
    for client in raw["clients"]:
        if client["id"] == "riziv-medical":
            client["filters"] = ["birthDate"]
    path = tmp_path_factory.mktemp("inconsistent-annex") / "dataset.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


@pytest.fixture
def gateway_for(
    gateway: Server, gateway_with: GatewayFactory, inconsistent_annex: Path
) -> Callable[[str | None], Server]:
    """The gateway a test case needs, by its `gatewaySetup` property (none: `make run`'s),
    started once, as GATEWAY_COMMANDS (what examples/README.md tells) sets it up."""

    def pick(setup: str | None) -> Server:
        if setup is None:
            return gateway
        if setup == INCONSISTENT_ANNEX:  # SEG_DATASET: the README's script writes this file
            return gateway_with.server(dataset=inconsistent_annex)
        return gateway_with.server(env=_environment(GATEWAY_COMMANDS[setup]))

    return pick


def test_definition_cache_is_the_served_contract(pki: DevPki, gateway: Server) -> None:
    """The WSDL and XSDs cached in the project are those the gateway serves (refresh them in
    SoapUI with the interface's Update Definition if this fails)."""
    (cache,) = PROJECT_ROOT.findall("con:interface/con:definitionCache", NS)
    parts = {
        _text(part, "con:url"): _text(part, "con:content")
        for part in cache.iterfind("con:part", NS)
    }
    assert cache.get("rootPart") == KIT_ENDPOINT + "?wsdl"
    urls = [KIT_ENDPOINT + "?wsdl"] + [f"{KIT_ENDPOINT}?xsd={name}" for name in XSD_FILES]
    assert sorted(parts) == sorted(urls)
    live = gateway.urls["soap"]
    with httpx.Client(verify=tls_context(pki, "cpas-namur")) as client:
        for url in urls:
            served = client.get(url.replace(KIT_ENDPOINT, live))
            assert served.status_code == 200, url
            text = served.content.decode("utf-8").replace(live, KIT_ENDPOINT)
            assert _c14n(text) == _c14n(parts[url]), f"{url}: the cached copy is stale"


def _c14n(text: str) -> bytes:
    parser = etree.XMLParser(remove_blank_text=True, remove_comments=True)
    root = etree.fromstring(re.sub(r"^<\?xml[^>]*\?>", "", text.strip()).encode(), parser)
    return etree.tostring(root, method="c14n")


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_kit_case_against_the_live_gateway(
    case: KitCase,
    bundle_contexts: dict[str, ssl.SSLContext],
    gateway_for: Callable[[str | None], Server],
) -> None:
    """Send the test case's requests as SoapUI does, one step after the other as soon as the
    previous one is answered, and evaluate each step's assertions on its answer."""
    server = gateway_for(case.properties.get("gatewaySetup"))
    failures: list[str] = []
    with httpx.Client(verify=bundle_contexts[case.client], timeout=15) as client:
        for step in case.steps:
            response = client.post(
                step.endpoint.replace(KIT_ENDPOINT, server.urls["soap"]),
                content=step.request.encode("utf-8"),
                headers={
                    "Content-Type": "text/xml;charset=UTF-8",
                    "SOAPAction": f'"{ACTION}{step.operation}"',  # quoted, as SoapUI sends it
                },
            )
            document = etree.fromstring(response.content)
            failures += [
                f"{step.name}: {assertion.name} ({assertion.type}): {failure}\n{response.text}"
                for assertion in step.assertions
                if (failure := _evaluate(assertion, response, document)) is not None
            ]
    assert not failures, "\n".join(failures)


def _evaluate(
    assertion: Assertion, response: httpx.Response, document: etree._Element
) -> str | None:
    """None if the assertion holds, else why not."""
    payload = _payload(document)
    is_fault = payload is not None and payload.tag == f"{{{SOAP_ENV}}}Fault"
    if assertion.type == IS_SOAP_FAULT:
        if response.status_code == 500 and is_fault:
            return None
        return f"expected HTTP 500 with a SOAP fault, got {response.status_code}"
    if assertion.type == IS_NOT_SOAP_FAULT:
        if response.status_code == 200 and payload is not None and not is_fault:
            return None
        return f"expected HTTP 200 without SOAP fault, got {response.status_code}"
    if assertion.type == SCHEMA_COMPLIANCE:
        if payload is None:
            return "no payload in the Body"
        error = SERVICE_XSD.first_error(payload)
        return None if error is None else error.message
    if assertion.type == XPATH_MATCH:
        assert assertion.path is not None and assertion.content is not None
        return _xpath_match(assertion.path, assertion.content, document)
    if assertion.type == SCRIPT:
        script = KNOWN_SCRIPTS.get(assertion.content or "")
        if script is None:
            return "a script the replay does not know"
        return None if script(response) else f"failed; headers: {dict(response.headers)}"
    return f"unknown assertion type {assertion.type!r}"


def _payload(document: etree._Element) -> etree._Element | None:
    if document.tag != f"{{{SOAP_ENV}}}Envelope":
        return None
    body = document.find(f"{{{SOAP_ENV}}}Body")
    children = [] if body is None else [c for c in body if isinstance(c.tag, str)]
    return children[0] if len(children) == 1 else None


def _xpath_match(path: str, content: str, document: etree._Element) -> str | None:
    """SoapUI's XPath Match: some selected node has exactly the expected text."""
    namespaces = {prefix: uri for prefix, _, uri in _DECLARE.findall(path)}
    expression = _DECLARE.sub("", path).strip()
    found = document.xpath(expression, namespaces=namespaces)
    if not isinstance(found, list):  # a number: only count(…), an integer for SoapUI (Saxon)
        if not (expression.startswith("count(") and isinstance(found, float)):
            return f"{expression}: not a node set nor count(…): not replayed here"
        value = str(int(found))
        return None if value == content else f"{expression}: expected {content!r}, got {value!r}"
    items = found
    if not items:
        return f"nothing at {expression}"
    values = [
        (item.text or "") if isinstance(item, etree._Element) else str(item) for item in items
    ]
    if content in values:
        return None
    return f"{expression}: expected {content!r}, got {values!r}"
