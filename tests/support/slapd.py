"""A real OpenLDAP server (Debian's slapd) on loopback for the LDAP sign-in tests: started as the
current user on free ports (ldap:// with StartTLS, and ldaps://) with a directory loaded by
slapadd from an LDIF, and TLS certificates signed by a CA made for the run with openssl.

The directory (dc=example,dc=org):
    ou=people   inetOrgPerson entries (uid, givenName, sn, mail), OpenLDAP style
    ou=groups   groupOfNames: support (ann, dan), helpdesk (has support as a member: nested),
                admins (admin)
    ou=services cn=reader, the service account that may search
    ou=corp     Active Directory-shaped entries: `user` with sAMAccountName and a binary
                objectGUID, `group` with member, GG-Helpdesk holding GG-Support
Anonymous clients may only bind; a bound one reads everything but passwords.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import ldap

from assistant.lib.ports import free_port
from tests.support.waiting import wait_for

SUFFIX = "dc=example,dc=org"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "root-secret"
READER_DN = f"cn=reader,ou=services,{SUFFIX}"
READER_PASSWORD = "reader-secret"
PASSWORDS = {
    "ann": "ann-secret",
    "dan": "dan-secret",
    "admin": "ldap-admin-secret",
    "kim": "kim-secret",
}
KIM_GUID = uuid.UUID("6f9619ff-8b86-d011-b42d-00c04fc964ff")  # as Windows writes it

# The few Active Directory attributes and classes the tests need, with their Microsoft OIDs
# (Debian's msuser.schema has them, but without the matching rules a search filter needs).
_AD_SCHEMA = """
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
    EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.2 NAME 'objectGUID'
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
objectclass ( 1.2.840.113556.1.5.9 NAME 'user' SUP inetOrgPerson STRUCTURAL
    MAY ( sAMAccountName $ objectGUID ) )
objectclass ( 1.2.840.113556.1.5.8 NAME 'group' SUP top STRUCTURAL
    MUST cn MAY ( member $ sAMAccountName $ objectGUID ) )
"""


def _person(uid: str, given: str, family: str) -> str:
    return f"""
dn: uid={uid},ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: {uid}
cn: {given} {family}
givenName: {given}
sn: {family}
mail: {uid}@example.org
userPassword: {PASSWORDS[uid]}
"""


def _group(dn: str, object_class: str, *members: str) -> str:
    cn = dn.split(",")[0].split("=")[1]
    lines = [f"dn: {dn}", f"objectClass: {object_class}", f"cn: {cn}"]
    return "\n" + "\n".join(lines + [f"member: {member}" for member in members]) + "\n"


SUPPORT = f"cn=support,ou=groups,{SUFFIX}"
HELPDESK = f"cn=helpdesk,ou=groups,{SUFFIX}"
ADMINS = f"cn=admins,ou=groups,{SUFFIX}"
KIM = f"cn=Kim Wu,ou=corp,{SUFFIX}"
GG_SUPPORT = f"cn=GG-Support,ou=corp,{SUFFIX}"
GG_HELPDESK = f"cn=GG-Helpdesk,ou=corp,{SUFFIX}"


def person_dn(uid: str) -> str:
    return f"uid={uid},ou=people,{SUFFIX}"


def _directory() -> str:
    units = "".join(
        f"\ndn: ou={ou},{SUFFIX}\nobjectClass: organizationalUnit\nou: {ou}\n"
        for ou in ("people", "groups", "services", "corp")
    )
    return (
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n"
        + units
        + _person("ann", "Ann", "Lee")
        + _person("dan", "Dan", "Ng")
        + _person("admin", "Eve", "Mallory")
        + f"""
dn: {READER_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: {READER_PASSWORD}

dn: {KIM}
objectClass: user
cn: Kim Wu
sAMAccountName: kim
givenName: Kim
sn: Wu
mail: kim@corp.example.org
objectGUID:: {base64.b64encode(KIM_GUID.bytes_le).decode()}
userPassword: {PASSWORDS["kim"]}
"""
        + _group(SUPPORT, "groupOfNames", person_dn("ann"), person_dn("dan"))
        + _group(HELPDESK, "groupOfNames", SUPPORT)
        + _group(ADMINS, "groupOfNames", person_dn("admin"))
        + _group(GG_SUPPORT, "group", KIM)
        + _group(GG_HELPDESK, "group", GG_SUPPORT)
    )


def _config(folder: Path) -> str:
    schemas = "".join(
        f"include /etc/ldap/schema/{name}.schema\n"
        for name in ("core", "cosine", "inetorgperson", "nis")
    )
    return f"""{schemas}{_AD_SCHEMA}
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {folder}/slapd.pid
TLSCACertificateFile {folder}/ca.pem
TLSCertificateFile {folder}/server.pem
TLSCertificateKeyFile {folder}/server.key
database mdb
maxsize 16777216
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PASSWORD}
directory {folder}/data
access to attrs=userPassword by anonymous auth by * none
access to * by users read by anonymous auth
"""


def _certificates(folder: Path) -> None:
    """A CA, and a certificate it signs for 127.0.0.1 (as an IP address and a name)."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl(
        "req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=Test directory CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    openssl("req", *key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (folder / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.pem",
    )  # fmt: skip


@dataclass
class Slapd:
    folder: Path
    port: int
    tls_port: int
    process: subprocess.Popen

    @property
    def uri(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_uri(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}"

    @property
    def ca_file(self) -> str:
        return str(self.folder / "ca.pem")

    def admin(self) -> ldap.ldapobject.LDAPObject:
        """A connection as the directory's root, to change entries during a test."""
        connection = ldap.initialize(self.uri)
        connection.simple_bind_s(ROOT_DN, ROOT_PASSWORD)
        return connection

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(folder: Path) -> Slapd:
    """slapd on free loopback ports, its directory and certificates in `folder`."""
    (folder / "data").mkdir(parents=True)
    _certificates(folder)
    config = folder / "slapd.conf"
    config.write_text(_config(folder))
    (folder / "directory.ldif").write_text(_directory())
    slapd = shutil.which("slapd") or "/usr/sbin/slapd"
    slapadd = shutil.which("slapadd") or "/usr/sbin/slapadd"
    subprocess.run(
        [slapadd, "-f", config, "-l", folder / "directory.ldif"], check=True, capture_output=True
    )
    port, tls_port = free_port(), free_port()
    urls = f"ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/"
    # -d 0: stay in the foreground (no fork), so the process is ours to stop.
    process = subprocess.Popen(
        [slapd, "-f", config, "-h", urls, "-d", "0"],
        stdout=subprocess.DEVNULL,
        stderr=(folder / "slapd.log").open("wb"),
    )
    server = Slapd(folder, port, tls_port, process)

    def answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"slapd exited: {(folder / 'slapd.log').read_text()}")
        try:
            server.admin().unbind_s()
        except ldap.SERVER_DOWN:
            return False
        return True

    wait_for(answers, timeout=30, every=0.05)
    return server
