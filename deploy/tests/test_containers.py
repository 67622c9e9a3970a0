"""The container test: the real image (deploy/Dockerfile), PostgreSQL and three accord-server
replicas on a private Docker network, driven with the Python grpcio client.

- ballots spread over the three replicas are seen at once through every replica, and a watch on
  another replica sees every one of them;
- `docker kill` of one replica under load loses no acknowledged ballot, and the others keep
  serving;
- a rolling restart (each replica stopped with SIGTERM and started again, the next one only once
  it answers SERVING): a client that balances over the three replicas and retries UNAVAILABLE
  sees no failed request.

Credentials: the replicas listen on 0.0.0.0, so they run as a production deployment would: TLS
(a certificate from a CA the test makes) and an operator token from a mounted file
(ACCORD_OPERATOR_TOKEN_FILE). As the operator, the test issues a delegation token per member
(DelegationService/IssueToken, through one replica); each member's ballots and proposals are
cast with its own token (`authorization: Bearer …`) through any replica, reads with the operator
token (docs/security.md).

Run with deploy/tests/run.sh, which builds the image and the stubs. Environment: ACCORD_IMAGE
(the image under test), ACCORD_POSTGRES_IMAGE (official or built by
deploy/images/build-bases.sh), ACCORD_TEST_PREFIX (names every container and the network; one
per run), ACCORD_PY_GENERATED (the stubs).
"""

import datetime
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, os.environ["ACCORD_PY_GENERATED"])

from google.protobuf import timestamp_pb2  # noqa: E402

from accord.v1 import ballot_pb2  # noqa: E402
from accord.v1 import common_pb2  # noqa: E402
from accord.v1 import delegation_service_pb2  # noqa: E402
from accord.v1 import delegation_service_pb2_grpc  # noqa: E402
from accord.v1 import member_service_pb2  # noqa: E402
from accord.v1 import member_service_pb2_grpc  # noqa: E402
from accord.v1 import proposal_pb2  # noqa: E402
from accord.v1 import proposal_service_pb2  # noqa: E402
from accord.v1 import proposal_service_pb2_grpc  # noqa: E402

IMAGE = os.environ.get("ACCORD_IMAGE", "accord:test")
POSTGRES_IMAGE = os.environ.get("ACCORD_POSTGRES_IMAGE", "postgres:15-bookworm")
PREFIX = os.environ.get("ACCORD_TEST_PREFIX", "accord-test")
SECRETS = "/run/secrets/accord"
SERVER_NAME = "accord"  # the name in the replicas' certificate that clients check
RPC_TIMEOUT_S = 10
REPLICAS = 3
MEMBERS = ["ALB", "BEL", "BGR", "CAN", "HRV", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC"]
SPONSOR = "USA"
# grpc.health.v1.HealthCheckResponse{status: SERVING}, encoded (no grpc-health package needed).
SERVING = b"\x08\x01"


def docker(*args, check=True, timeout=180):
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def wait_until(what, predicate, timeout=120, every=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def pem(obj):
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class Pki:
    """A CA and the replicas' server certificate."""

    def __init__(self, server_ips):
        import ipaddress
        now = datetime.datetime.now(datetime.timezone.utc)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accord container test CA")])
        self.ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
                   .public_key(self.ca_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(self.ca_key, hashes.SHA256()))
        self.server_key = ec.generate_private_key(ec.SECP256R1())
        names = [x509.DNSName(SERVER_NAME), x509.DNSName("localhost"),
                 x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                 *[x509.IPAddress(ipaddress.ip_address(ip)) for ip in server_ips]]
        self.server = (x509.CertificateBuilder()
                       .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                                   SERVER_NAME)]))
                       .issuer_name(self.ca.subject).public_key(self.server_key.public_key())
                       .serial_number(x509.random_serial_number())
                       .not_valid_before(now - datetime.timedelta(hours=1))
                       .not_valid_after(now + datetime.timedelta(days=1))
                       .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                                      critical=True)
                       .add_extension(x509.SubjectAlternativeName(names), critical=False)
                       .sign(self.ca_key, hashes.SHA256()))

    def credentials(self):
        """Channel credentials trusting the CA."""
        return grpc.ssl_channel_credentials(root_certificates=pem(self.ca))


class Cluster:
    """PostgreSQL and three replicas on a private network with fixed addresses."""

    def __init__(self):
        self.tag = uuid.uuid4().hex[:6]
        self.net = f"{PREFIX}-{self.tag}-net"
        self.subnet = f"10.{random.randint(16, 250)}.{random.randint(0, 255)}"
        self.pg = self.name("postgres")
        self.pg_ip = f"{self.subnet}.10"
        self.replicas = [self.name(f"accord-{i + 1}") for i in range(REPLICAS)]
        self.replica_ips = [f"{self.subnet}.{21 + i}" for i in range(REPLICAS)]
        self.containers = []
        self.pki = Pki(self.replica_ips)
        # The operator token and the TLS material, as an operator provides them (docs/deploy.md):
        # files readable by the server's user (uid 10001 in the image), mounted read-only.
        self.operator_token = secrets.token_hex(32)
        self.dir = tempfile.mkdtemp(prefix=f"{PREFIX}-")
        for name, data in [("operator.token", (self.operator_token + "\n").encode()),
                           ("ca.pem", pem(self.pki.ca)), ("server.pem", pem(self.pki.server)),
                           ("server.key", pem(self.pki.server_key))]:
            path = os.path.join(self.dir, name)
            with open(path, "wb") as f:
                f.write(data)
            os.chmod(path, 0o644)
        os.chmod(self.dir, 0o755)

    def name(self, role):
        return f"{PREFIX}-{self.tag}-{role}"

    def run(self, name, ip, *options, image, env=None):
        """`docker run -d` of `image` as `name` at `ip`, with docker `options` and `env`."""
        command = ["run", "-d", "--name", name, "--network", self.net, "--ip", ip, *options]
        for key, value in (env or {}).items():
            command += ["-e", f"{key}={value}"]
        self.containers.append(name)
        docker(*command, image)

    def start(self):
        docker("network", "create", "--subnet", f"{self.subnet}.0/24", self.net)
        self.run(self.pg, self.pg_ip, image=POSTGRES_IMAGE, env={
            "POSTGRES_USER": "accord", "POSTGRES_PASSWORD": "accord", "POSTGRES_DB": "accord"})
        wait_until("PostgreSQL ready", lambda: docker(
            "exec", self.pg, "pg_isready", "-U", "accord", "-d", "accord", check=False,
        ).endswith("accepting connections"))
        url = f"postgres://accord:accord@{self.pg_ip}:5432/accord"
        for name, ip in zip(self.replicas, self.replica_ips):
            self.run(name, ip, "-v", f"{self.dir}:{SECRETS}:ro", image=IMAGE, env={
                "ACCORD_DATABASE_URL": url, "ACCORD_SHUTDOWN_GRACE_MS": "10000",
                "ACCORD_OPERATOR_TOKEN_FILE": f"{SECRETS}/operator.token",
                "ACCORD_TLS_CERT": f"{SECRETS}/server.pem",
                "ACCORD_TLS_KEY": f"{SECRETS}/server.key"})
        for ip in self.replica_ips:
            self.wait_serving(ip)
        self.tokens = self.issue_tokens()

    def issue_tokens(self):
        """A delegation token per member, issued by the operator through the first replica."""
        channel = self.channel(f"{self.replica_ips[0]}:50051")
        delegations = delegation_service_pb2_grpc.DelegationServiceStub(channel)
        tokens = {}
        for code in [SPONSOR, *MEMBERS]:
            response = delegations.IssueToken(delegation_service_pb2.IssueTokenRequest(
                member=f"members/{code}", ttl_seconds=3600, label="container test"),
                metadata=self.operator(), timeout=RPC_TIMEOUT_S)
            tokens[code] = response.secret
        channel.close()
        return tokens

    def channel(self, target):
        """A TLS channel to `target` (several addresses: balanced round robin)."""
        return grpc.secure_channel(target, self.pki.credentials(), options=[
            ("grpc.ssl_target_name_override", SERVER_NAME),
            ("grpc.default_authority", SERVER_NAME),
            ("grpc.lb_policy_name", "round_robin"),
        ])

    def operator(self):
        return (("authorization", f"Bearer {self.operator_token}"),)

    def health(self, ip):
        """The replica's grpc.health.v1 status, encoded; None if it cannot be reached."""
        channel = self.channel(f"{ip}:50051")
        try:
            check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                        request_serializer=lambda b: b,
                                        response_deserializer=lambda b: b)
            return check(b"", timeout=2)
        except grpc.RpcError:
            return None
        finally:
            channel.close()

    def wait_serving(self, ip, timeout=120):
        wait_until(f"the replica at {ip} SERVING", lambda: self.health(ip) == SERVING,
                   timeout=timeout)

    def logs(self):
        out = []
        for name in self.containers:
            result = subprocess.run(["docker", "logs", "--tail", "40", name],
                                    capture_output=True, text=True)
            out.append(f"--- {name} ---\n{result.stdout[-4000:]}{result.stderr[-4000:]}")
        return "\n".join(out)

    def remove(self):
        for name in reversed(self.containers):
            docker("rm", "-f", "-v", name, check=False)
        docker("network", "rm", self.net, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(request):
    c = Cluster()
    try:
        c.start()
        yield c
    except BaseException:
        print(c.logs())
        raise
    finally:
        if request.session.testsfailed:
            logs = c.logs()
            os.makedirs("target", exist_ok=True)
            with open("target/container-test-logs.txt", "w") as f:
                f.write(logs)
            print(logs)
        c.remove()


class Delegations:
    """Each member's delegation: its token, on one channel per replica (or target)."""

    def __init__(self, cluster, targets):
        self.cluster = cluster
        self.channels = [cluster.channel(target) for target in targets]
        self.stubs = [proposal_service_pb2_grpc.ProposalServiceStub(c) for c in self.channels]

    def proposals(self, member, i=0):
        """The ProposalService of target `i`, and the metadata that acts as `member`."""
        return self.stubs[i], (("authorization", f"Bearer {self.cluster.tokens[member]}"),)

    def close(self):
        for channel in self.channels:
            channel.close()


def new_motion(delegation, title):
    proposals, metadata = delegation
    deadline = timestamp_pb2.Timestamp()
    deadline.FromDatetime(datetime.datetime.now(datetime.timezone.utc)
                          + datetime.timedelta(hours=2))
    request = proposal_service_pb2.CreateProposalRequest(proposal=proposal_pb2.Proposal(
        title=title,
        generic_motion=proposal_pb2.GenericMotion(target="containers", text=title),
        policy=common_pb2.PolicyRef(policy_id="unanimity"),
        deadline=deadline,
    ))
    return proposals.CreateProposal(request, metadata=metadata,
                                    timeout=RPC_TIMEOUT_S).proposal.name


def ballot(member, n):
    # Support and abstain in turn keep a unanimity proposal open (never settled early).
    choice = ballot_pb2.CHOICE_SUPPORT if n % 2 == 0 else ballot_pb2.CHOICE_ABSTAIN
    return ballot_pb2.Ballot(member=f"members/{member}", choice=choice, reason=f"ballot {n}")


def cast(delegation, proposal, member, n):
    """CastBallot as `member`'s delegation (`delegation`: a stub and that member's token)."""
    proposals, metadata = delegation
    return proposals.CastBallot(proposal_service_pb2.CastBallotRequest(
        proposal=proposal, ballot=ballot(member, n)), metadata=metadata, timeout=RPC_TIMEOUT_S)


def all_ballots(cluster, target, proposal):
    """Every ballot's name, read as the operator through `target`."""
    channel = cluster.channel(target)
    proposals = proposal_service_pb2_grpc.ProposalServiceStub(channel)
    names, token = [], ""
    try:
        while True:
            page = proposals.ListBallots(proposal_service_pb2.ListBallotsRequest(
                proposal=proposal, page_size=1000, page_token=token),
                metadata=cluster.operator(), timeout=RPC_TIMEOUT_S)
            names += [b.name for b in page.ballots]
            if not page.next_page_token:
                return names
            token = page.next_page_token
    finally:
        channel.close()


def test_ballots_through_every_replica_are_seen_by_every_replica_and_a_watch(cluster):
    targets = [f"{ip}:50051" for ip in cluster.replica_ips]
    delegations = Delegations(cluster, targets)
    proposal = new_motion(delegations.proposals(SPONSOR, 0), "spread over the replicas")
    events, ready = [], threading.Event()
    watch_channel = cluster.channel(targets[2])

    def watch():
        stream = proposal_service_pb2_grpc.ProposalServiceStub(watch_channel).WatchProposal(
            proposal_service_pb2.WatchProposalRequest(name=proposal),
            metadata=cluster.operator(), timeout=60)
        ready.set()
        for event in stream:
            events.append(event)
            if sum(1 for e in events if e.HasField("ballot")) >= 9:
                stream.cancel()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    ready.wait(10)
    time.sleep(1)
    cast_names = []
    for n in range(9):
        response = cast(delegations.proposals(MEMBERS[n], n % 3), proposal, MEMBERS[n], n)
        cast_names.append(response.ballot.name)
        # Seen at once through every replica.
        for target in targets:
            assert response.ballot.name in all_ballots(cluster, target, proposal)
    watcher.join(30)
    seen = [e.ballot.name for e in events if e.HasField("ballot")]
    assert sorted(seen) == sorted(cast_names), f"the watch on replica 3 saw {seen}, cast {cast_names}"
    watch_channel.close()
    delegations.close()


def test_killing_one_replica_under_load_loses_no_acknowledged_ballot(cluster):
    targets = [f"{ip}:50051" for ip in cluster.replica_ips]
    delegations = Delegations(cluster, targets)
    proposal = new_motion(delegations.proposals(SPONSOR, 0), "kill -9 under load")
    acknowledged, lock, stop = [], threading.Lock(), threading.Event()
    failures_on_survivors, killed = [], threading.Event()

    def load(worker):
        n = 0
        while not stop.is_set():
            replica = (worker + n) % 3
            member = MEMBERS[(worker * 7 + n) % len(MEMBERS)]
            try:
                response = cast(delegations.proposals(member, replica), proposal, member, n)
                with lock:
                    acknowledged.append(response.ballot.name)
            except grpc.RpcError as e:
                if replica != 2:
                    failures_on_survivors.append(f"{e.code()}: {e.details()}")
                elif not killed.is_set():
                    failures_on_survivors.append(f"before the kill: {e.code()}: {e.details()}")
            n += 1

    workers = [threading.Thread(target=load, args=(w,), daemon=True) for w in range(6)]
    for w in workers:
        w.start()
    wait_until("load", lambda: len(acknowledged) >= 60, timeout=60, every=0.05)
    killed.set()
    docker("kill", "--signal", "KILL", cluster.replicas[2])
    at_kill = len(acknowledged)
    time.sleep(3)
    stop.set()
    for w in workers:
        w.join(30)
    assert len(acknowledged) > at_kill, "the surviving replicas acknowledged nothing after the kill"
    assert failures_on_survivors == [], f"the surviving replicas failed: {failures_on_survivors[:5]}"
    stored = set(all_ballots(cluster, targets[0], proposal))
    lost = [name for name in acknowledged if name not in stored]
    assert lost == [], f"{len(lost)} of {len(acknowledged)} acknowledged ballots lost: {lost[:5]}"
    # The killed replica comes back on the same database and sees every one of them.
    docker("start", cluster.replicas[2])
    cluster.wait_serving(cluster.replica_ips[2])
    assert set(all_ballots(cluster, targets[2], proposal)) >= set(acknowledged)
    delegations.close()
    print(f"kill under load: {len(acknowledged)} ballots acknowledged ({at_kill} before the "
          f"kill), all {len(stored)} stored ones read back, none lost")


def test_a_rolling_restart_fails_no_request_of_a_client_that_retries_unavailable(cluster):
    # One target for the three replicas; the client balances over those that answer.
    target = "ipv4:" + ",".join(f"{ip}:50051" for ip in cluster.replica_ips)
    delegations = Delegations(cluster, [target])
    proposal = new_motion(delegations.proposals(SPONSOR), "rolling restart")
    reader = cluster.channel(target)
    members = member_service_pb2_grpc.MemberServiceStub(reader)
    done, stop, failures, retries = [0], threading.Event(), [], [0]

    def call_with_retry(call):
        delay = 0.05
        for _ in range(60):
            try:
                return call()
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                retries[0] += 1
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        raise AssertionError("still UNAVAILABLE after 60 tries")

    def client(worker):
        n = 0
        while not stop.is_set():
            member = MEMBERS[(worker * 3 + n) % len(MEMBERS)]
            try:
                call_with_retry(lambda: members.GetMember(
                    member_service_pb2.GetMemberRequest(name="members/DEU"),
                    metadata=cluster.operator(), timeout=RPC_TIMEOUT_S))
                call_with_retry(lambda: cast(delegations.proposals(member), proposal, member, n))
                done[0] += 2
            except Exception as e:  # noqa: BLE001 - every failure is what this test counts
                failures.append(repr(e))
            n += 1

    clients = [threading.Thread(target=client, args=(w,), daemon=True) for w in range(4)]
    for c in clients:
        c.start()
    time.sleep(1)
    served_while_down = []
    for name, ip in zip(cluster.replicas, cluster.replica_ips):
        before = docker("inspect", "--format", "{{.State.StartedAt}}", name)
        at_stop = done[0]
        docker("stop", "--time", "20", name)  # SIGTERM: drain, then exit
        assert cluster.health(ip) is None, f"{name} still answers after docker stop"
        time.sleep(1)
        served_while_down.append(done[0] - at_stop)
        docker("start", name)
        cluster.wait_serving(ip)
        assert docker("inspect", "--format", "{{.State.StartedAt}}", name) != before
        time.sleep(1)
    stop.set()
    for c in clients:
        c.join(60)
    reader.close()
    delegations.close()
    assert failures == [], f"{len(failures)} failed requests, e.g. {failures[:3]}"
    assert done[0] > 100, f"only {done[0]} requests completed during the restart"
    assert all(n > 0 for n in served_while_down), \
        f"requests completed while each replica was down: {served_while_down}"
    print(f"rolling restart: {done[0]} requests, {retries[0]} retried UNAVAILABLE; "
          f"completed while each replica was down: {served_while_down}")
