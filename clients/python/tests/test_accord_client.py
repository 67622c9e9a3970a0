"""Cross-language client test: Python grpcio stubs generated from proto/accord/v1 talking to the
real Rust accord-server binary.

Run with clients/python/run_tests.sh, which generates the stubs into target/python-generated and
puts them on the path. The server binary is repo_root/target/debug/accord-server, or
$ACCORD_SERVER_BIN if set.
"""

import datetime
import os
import pathlib
import queue
import re
import signal
import subprocess
import sys
import threading
import warnings

import grpc
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]

# The stubs are generated, not committed: find them where run_tests.sh puts them.
_generated = os.environ.get("ACCORD_PY_GENERATED", str(REPO_ROOT / "target" / "python-generated"))
if _generated not in sys.path:
    sys.path.insert(0, _generated)

from google.protobuf import timestamp_pb2  # noqa: E402

from accord.v1 import ballot_pb2  # noqa: E402
from accord.v1 import common_pb2  # noqa: E402
from accord.v1 import decision_pb2  # noqa: E402
from accord.v1 import member_service_pb2  # noqa: E402
from accord.v1 import member_service_pb2_grpc  # noqa: E402
from accord.v1 import policy_service_pb2  # noqa: E402
from accord.v1 import policy_service_pb2_grpc  # noqa: E402
from accord.v1 import proposal_pb2  # noqa: E402
from accord.v1 import proposal_service_pb2  # noqa: E402
from accord.v1 import proposal_service_pb2_grpc  # noqa: E402

LISTENING = re.compile(r"accord-server listening on (\S+)")
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 10
RPC_TIMEOUT_S = 10
BUNDLED_POLICIES = [
    "policies/bargaining",
    "policies/pressure",
    "policies/unanimity",
    "policies/weighted",
]


def _server_binary() -> pathlib.Path:
    path = pathlib.Path(
        os.environ.get("ACCORD_SERVER_BIN", REPO_ROOT / "target" / "debug" / "accord-server")
    )
    if not path.is_file():
        pytest.fail(f"server binary {path} not found: run `cargo build -p accord-server` first")
    return path


def _tail(path: pathlib.Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"(cannot read {path}: {e})"


@pytest.fixture(scope="session")
def channel(tmp_path_factory):
    """Starts accord-server on a free port with a fresh database; yields a channel to it."""
    workdir = tmp_path_factory.mktemp("accord-server")
    database = workdir / "accord.db"
    log_path = workdir / "server.log"
    # The server reads ACCORD_* variables as defaults for its flags; keep the caller's out so the
    # test sees the bundled configuration.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env.setdefault("NO_COLOR", "1")
    command = [
        str(_server_binary()),
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        f"sqlite://{database}",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
        )

    # Read stdout on a thread (and keep draining it) so a quiet or dead server cannot hang us.
    lines: "queue.Queue[str | None]" = queue.Queue()

    def pump():
        for raw in process.stdout:
            lines.put(raw.decode("utf-8", errors="replace"))
        lines.put(None)

    threading.Thread(target=pump, name="accord-server-stdout", daemon=True).start()

    def stop():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                warnings.warn(
                    f"accord-server did not exit within {STOP_TIMEOUT_S} s of SIGTERM; killed it"
                )
                return
            if process.returncode != 0:
                warnings.warn(
                    f"accord-server exited with {process.returncode} after SIGTERM; "
                    f"log tail:\n{_tail(log_path)}"
                )

    address = None
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=START_TIMEOUT_S)
    try:
        while address is None:
            remaining = (deadline - datetime.datetime.now()).total_seconds()
            if remaining <= 0:
                pytest.fail(
                    f"accord-server printed no listening line within {START_TIMEOUT_S} s; "
                    f"log tail:\n{_tail(log_path)}"
                )
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                process.wait(timeout=STOP_TIMEOUT_S)
                pytest.fail(
                    f"accord-server exited with {process.returncode} before listening; "
                    f"log tail:\n{_tail(log_path)}"
                )
            match = LISTENING.search(line)
            if match:
                address = match.group(1)
    except BaseException:
        stop()
        raise

    ch = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(ch).result(timeout=RPC_TIMEOUT_S)
        yield ch
    finally:
        ch.close()
        stop()


@pytest.fixture(scope="session")
def members(channel):
    return member_service_pb2_grpc.MemberServiceStub(channel)


@pytest.fixture(scope="session")
def proposals(channel):
    return proposal_service_pb2_grpc.ProposalServiceStub(channel)


@pytest.fixture(scope="session")
def policies(channel):
    return policy_service_pb2_grpc.PolicyServiceStub(channel)


def _in_one_hour() -> timestamp_pb2.Timestamp:
    deadline = timestamp_pb2.Timestamp()
    now = datetime.datetime.now(datetime.timezone.utc)
    deadline.FromDatetime(now + datetime.timedelta(hours=1))
    return deadline


def _create_end_nmi_proposal(proposals) -> proposal_pb2.Proposal:
    deadline = _in_one_hour()
    request = proposal_service_pb2.CreateProposalRequest(
        proposal=proposal_pb2.Proposal(
            title="End NATO Mission Iraq by 30 September 2026",
            end_mission=proposal_pb2.EndMission(
                mission="missions/NMI",
                end_date=common_pb2.Date(year=2026, month=9, day=30),
            ),
            sponsor="members/USA",
            deadline=deadline,
        )
    )
    created = proposals.CreateProposal(request, timeout=RPC_TIMEOUT_S).proposal
    assert created.name.startswith("proposals/"), created.name
    assert created.state == proposal_pb2.PROPOSAL_STATE_OPEN
    assert created.WhichOneof("action") == "end_mission"
    assert created.end_mission.mission == "missions/NMI"
    assert (created.end_mission.end_date.year, created.end_mission.end_date.month,
            created.end_mission.end_date.day) == (2026, 9, 30)
    assert created.sponsor == "members/USA"
    assert created.deadline == deadline
    return created


@pytest.fixture(scope="module")
def nmi_proposal(proposals):
    """An end-mission proposal for NMI, shared by the ballot and evaluation tests."""
    return _create_end_nmi_proposal(proposals)


def test_list_members_pages_through_all_32(members):
    seen = []
    token = ""
    pages = 0
    while True:
        response = members.ListMembers(
            member_service_pb2.ListMembersRequest(page_size=10, page_token=token),
            timeout=RPC_TIMEOUT_S,
        )
        pages += 1
        assert len(response.members) <= 10
        assert response.total_size == 32
        seen.extend(response.members)
        token = response.next_page_token
        if not token:
            break
        assert pages < 10, "ListMembers keeps returning a next_page_token"

    assert pages == 4
    names = [m.name for m in seen]
    assert len(seen) == 32
    assert len(set(names)) == 32, "a member appears on two pages"
    codes = [m.code for m in seen]
    assert codes == sorted(codes), "members are not ordered by code"

    usa = next(m for m in seen if m.name == "members/USA")
    assert usa.code == "USA"
    assert usa.display_name == "United States"
    assert usa.attributes["defence_expenditure_usd_mn"] == 967707


def test_create_proposal_and_cast_ballot(proposals, nmi_proposal):
    before = datetime.datetime.now(datetime.timezone.utc)
    response = proposals.CastBallot(
        proposal_service_pb2.CastBallotRequest(
            proposal=nmi_proposal.name,
            ballot=ballot_pb2.Ballot(
                member="members/DEU",
                choice=ballot_pb2.CHOICE_OBJECT,
                salience=0.7,
                reason="Germany prefers a slower drawdown to a smaller mission.",
            ),
        ),
        timeout=RPC_TIMEOUT_S,
    )
    ballot = response.ballot
    assert ballot.name.startswith(nmi_proposal.name + "/ballots/"), ballot.name
    assert ballot.HasField("cast_time")
    cast = ballot.cast_time.ToDatetime(tzinfo=datetime.timezone.utc)
    assert abs((cast - before).total_seconds()) < 300, f"cast_time {cast} is far from now"
    assert ballot.member == "members/DEU"
    assert ballot.choice == ballot_pb2.CHOICE_OBJECT
    assert response.proposal.name == nmi_proposal.name

    listed = proposals.ListBallots(
        proposal_service_pb2.ListBallotsRequest(proposal=nmi_proposal.name),
        timeout=RPC_TIMEOUT_S,
    ).ballots
    matching = [b for b in listed if b.name == ballot.name]
    assert len(matching) == 1, f"ballot {ballot.name} not in ListBallots: {listed}"
    stored = matching[0]
    assert stored.member == "members/DEU"
    assert stored.choice == ballot_pb2.CHOICE_OBJECT
    assert stored.HasField("salience")
    assert stored.salience == pytest.approx(0.7)
    assert stored.reason == "Germany prefers a slower drawdown to a smaller mission."
    assert stored.cast_time == ballot.cast_time


def test_errors_surface_as_grpc_status_codes(members, proposals):
    with pytest.raises(grpc.RpcError) as error:
        members.GetMember(
            member_service_pb2.GetMemberRequest(name="members/XXX"), timeout=RPC_TIMEOUT_S
        )
    assert error.value.code() == grpc.StatusCode.NOT_FOUND, error.value.details()

    # A fresh open proposal, so the only thing wrong with the ballot is its missing choice.
    proposal = _create_end_nmi_proposal(proposals)
    with pytest.raises(grpc.RpcError) as error:
        proposals.CastBallot(
            proposal_service_pb2.CastBallotRequest(
                proposal=proposal.name,
                ballot=ballot_pb2.Ballot(member="members/DEU", reason="no choice given"),
            ),
            timeout=RPC_TIMEOUT_S,
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, error.value.details()
    assert "choice" in error.value.details()


def test_evaluate_proposal_under_every_loaded_policy(proposals, policies, nmi_proposal):
    loaded = policies.ListPolicies(
        policy_service_pb2.ListPoliciesRequest(), timeout=RPC_TIMEOUT_S
    ).policies
    assert sorted(p.name for p in loaded) == BUNDLED_POLICIES

    def ballots():
        return list(
            proposals.ListBallots(
                proposal_service_pb2.ListBallotsRequest(proposal=nmi_proposal.name),
                timeout=RPC_TIMEOUT_S,
            ).ballots
        )

    ballots_before = ballots()

    # No policies given: one evaluation per loaded policy, by policy id. The USA (pressure's
    # default lead nation) has not voted, but it sponsors the proposal, so it counts as
    # supporting it and every policy decides.
    response = proposals.EvaluateProposal(
        proposal_service_pb2.EvaluateProposalRequest(name=nmi_proposal.name),
        timeout=RPC_TIMEOUT_S,
    )
    assert [e.policy for e in response.evaluations] == BUNDLED_POLICIES
    for evaluation in response.evaluations:
        _assert_decided(evaluation)

    # Several policies asked: a policy that refuses reports its own error and the others decide.
    # Poland neither voted nor sponsors the proposal, so it cannot lead the pressure model.
    response = proposals.EvaluateProposal(
        proposal_service_pb2.EvaluateProposalRequest(
            name=nmi_proposal.name,
            policies=[
                common_pb2.PolicyRef(policy_id="unanimity"),
                common_pb2.PolicyRef(policy_id="pressure", parameters={"lead": "POL"}),
            ],
        ),
        timeout=RPC_TIMEOUT_S,
    )
    evaluations = {e.policy: e for e in response.evaluations}
    assert [e.policy for e in response.evaluations] == ["policies/unanimity", "policies/pressure"]
    _assert_decided(evaluations["policies/unanimity"])
    pressure = evaluations["policies/pressure"]
    assert pressure.error_code == grpc.StatusCode.INVALID_ARGUMENT.value[0], pressure
    assert "lead nation POL has not cast a ballot" in pressure.error_message

    # Evaluating cast nothing.
    assert ballots() == ballots_before


def _assert_decided(evaluation) -> None:
    assert evaluation.error_code == 0, (evaluation.policy, evaluation.error_message)
    assert evaluation.HasField("decision"), evaluation.policy
    decision = evaluation.decision
    assert decision.outcome != decision_pb2.OUTCOME_UNSPECIFIED, evaluation.policy
    assert "policies/" + decision.policy.policy_id == evaluation.policy


# --- Signed ballots (docs/security.md): the canonical encoding, signed from Python. -----------

import struct  # noqa: E402

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

from accord.v1 import delegation_service_pb2  # noqa: E402
from accord.v1 import delegation_service_pb2_grpc  # noqa: E402

_CHOICES = {
    ballot_pb2.CHOICE_SUPPORT: "CHOICE_SUPPORT",
    ballot_pb2.CHOICE_OBJECT: "CHOICE_OBJECT",
    ballot_pb2.CHOICE_ABSTAIN: "CHOICE_ABSTAIN",
}


def _field(key: str, value: str) -> bytes:
    data = value.encode("utf-8")
    return key.encode() + b":" + str(len(data)).encode() + b":" + data + b"\n"


def _float_hex(x: float) -> str:
    return struct.pack(">d", x).hex()


def _position(message, field: str) -> str:
    if not message.HasField(field):
        return "none"
    position = getattr(message, field)
    which = position.WhichOneof("value")
    if which == "date":
        d = position.date
        return f"date:{d.year:04d}-{d.month:02d}-{d.day:02d}"
    if which == "amount":
        return "amount:" + _float_hex(position.amount)
    return "none"


def canonical_ballot(proposal: str, ballot) -> bytes:
    """accord-ballot-v1: the bytes a member signs (docs/security.md)."""
    position = _position(ballot, "position")
    if ballot.HasField("acceptable_range"):
        r = ballot.acceptable_range
        acceptable = _position(r, "low") + ".." + _position(r, "high")
    else:
        acceptable = "none"
    salience = _float_hex(ballot.salience) if ballot.HasField("salience") else "none"
    return (
        b"accord-ballot-v1\n"
        + _field("proposal", proposal)
        + _field("member", ballot.member)
        + _field("choice", "WITHDRAWN" if ballot.withdrawn else _CHOICES[ballot.choice])
        + _field("position", position)
        + _field("salience", salience)
        + _field("reason", ballot.reason)
        + _field("abstention", "constructive" if ballot.constructive_abstention else "none")
        + _field("reservation", ballot.reservation)
        + _field("acceptable", acceptable)
        + _field("nonce", ballot.nonce)
    )


def test_the_canonical_ballot_encoding_matches_the_documented_vector():
    import hashlib

    ballot = ballot_pb2.Ballot(
        member="members/DEU",
        choice=ballot_pb2.CHOICE_SUPPORT,
        position=common_pb2.Position(date=common_pb2.Date(year=2026, month=9, day=30)),
        salience=0.75,
        reason="Mandate fulfilled\nnext",
        nonce="2026-05-01T12:00:00Z",
    )
    digest = hashlib.sha256(canonical_ballot("proposals/3", ballot)).hexdigest()
    assert digest == "705ad701e40e89f98689332930974beb6dce22a46f911fbb093b951cb91145df"


def test_a_ballot_signed_in_python_is_accepted_and_a_forged_one_refused(channel, proposals):
    delegations = delegation_service_pb2_grpc.DelegationServiceStub(channel)
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    # The test server runs without authentication (loopback): the request names the member.
    delegations.RegisterBallotKey(
        delegation_service_pb2.RegisterBallotKeyRequest(member="members/EST", public_key=public),
        timeout=RPC_TIMEOUT_S,
    )
    created = _create_end_nmi_proposal(proposals)
    ballot = ballot_pb2.Ballot(
        member="members/EST",
        choice=ballot_pb2.CHOICE_SUPPORT,
        position=common_pb2.Position(date=common_pb2.Date(year=2026, month=9, day=30)),
        salience=0.5,
        reason="signed from Python",
        nonce=datetime.datetime.now(datetime.timezone.utc).isoformat(),
    )
    ballot.signature = key.sign(canonical_ballot(created.name, ballot))
    stored = proposals.CastBallot(
        proposal_service_pb2.CastBallotRequest(proposal=created.name, ballot=ballot),
        timeout=RPC_TIMEOUT_S,
    ).ballot
    assert stored.signature == ballot.signature
    assert stored.nonce == ballot.nonce

    forged = ballot_pb2.Ballot()
    forged.CopyFrom(ballot)
    forged.choice = ballot_pb2.CHOICE_OBJECT  # the signature was over SUPPORT
    with pytest.raises(grpc.RpcError) as refused:
        proposals.CastBallot(
            proposal_service_pb2.CastBallotRequest(proposal=created.name, ballot=forged),
            timeout=RPC_TIMEOUT_S,
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "signature" in refused.value.details()
