import CaseMeshCRDT
import Crypto
import Foundation
import SwiftASN1
import X509

/// The cluster's certificate authority and node certificates. Nodes trust
/// the cluster CA and nothing else; a node's identity is the URI
/// `casemesh://node/<id>` in its certificate (one, exactly), which the
/// transport checks against the node's hello and the configured peers —
/// host names and IP addresses in a certificate say where a node runs, not
/// who it is.
public enum ClusterCertificates {
    public static let identityPrefix = "casemesh://node/"

    public struct Issued: Sendable {
        public var certificatePEM: String
        public var privateKeyPEM: String
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case noIdentity
        case severalIdentities([String])
        case invalidIdentity(String)
        case unreadable(String)

        public var description: String {
            switch self {
            case .noIdentity: return "the certificate names no CaseMesh node (no \(ClusterCertificates.identityPrefix)<id> URI)"
            case let .severalIdentities(ids): return "the certificate names several nodes: \(ids.joined(separator: ", "))"
            case let .invalidIdentity(raw): return "the certificate's node id \"\(raw)\" is not a valid node id"
            case let .unreadable(reason): return "the certificate cannot be read: \(reason)"
            }
        }
    }

    /// A new cluster CA, valid for `years`.
    public static func makeAuthority(name: String = "CaseMesh cluster CA", years: Int = 10, now: Date = Date()) throws -> Issued {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName("CaseMesh")
            CommonName(name)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PrivateKey(key).publicKey,
            notValidBefore: now.addingTimeInterval(-3_600), notValidAfter: now.addingTimeInterval(Double(years) * 365 * 86_400),
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
        return Issued(certificatePEM: try certificate.serializeAsPEM().pemString, privateKeyPEM: key.pemRepresentation)
    }

    /// A certificate for `node`, signed by the CA, for both ends of a
    /// connection (server and client authentication). `hosts` (DNS names or
    /// IP addresses) are added as alternative names for tools that check them.
    public static func issue(node: ReplicaID, hosts: [String] = [], authority: Issued, years: Int = 2, now: Date = Date()) throws -> Issued {
        let caKey = try P256.Signing.PrivateKey(pemRepresentation: authority.privateKeyPEM)
        let caCertificate = try Certificate(pemEncoded: authority.certificatePEM)
        let key = P256.Signing.PrivateKey()
        var names: [GeneralName] = [.uniformResourceIdentifier(identityPrefix + node.rawValue), .dnsName(node.rawValue)]
        for host in hosts {
            if let address = ipAddressBytes(host) {
                names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(address))))
            } else {
                names.append(.dnsName(host))
            }
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PrivateKey(key).publicKey,
            notValidBefore: now.addingTimeInterval(-3_600), notValidAfter: now.addingTimeInterval(Double(years) * 365 * 86_400),
            issuer: caCertificate.subject,
            subject: try DistinguishedName {
                OrganizationName("CaseMesh")
                CommonName(node.rawValue)
            },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: Certificate.PrivateKey(caKey))
        return Issued(certificatePEM: try certificate.serializeAsPEM().pemString, privateKeyPEM: key.pemRepresentation)
    }

    /// The node a certificate (DER) was issued to.
    public static func nodeID(ofDER der: [UInt8]) throws(Failure) -> ReplicaID {
        let certificate: Certificate
        do {
            certificate = try Certificate(derEncoded: der)
        } catch {
            throw .unreadable("\(error)")
        }
        let names: SubjectAlternativeNames?
        do {
            names = try certificate.extensions.subjectAlternativeNames
        } catch {
            throw .unreadable("\(error)")
        }
        var ids: [String] = []
        for name in names ?? SubjectAlternativeNames([]) {
            if case let .uniformResourceIdentifier(uri) = name, uri.hasPrefix(identityPrefix) {
                ids.append(String(uri.dropFirst(identityPrefix.count)))
            }
        }
        guard let raw = ids.first else { throw .noIdentity }
        guard ids.count == 1 else { throw .severalIdentities(ids) }
        do {
            return try ReplicaID(validating: raw)
        } catch {
            throw .invalidIdentity(raw)
        }
    }

    /// IPv4 or IPv6 text as network-order bytes; nil for a host name.
    static func ipAddressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: v6) { Array($0) } }
        return nil
    }

    /// Writes the CA and one certificate per node into `directory`: `ca.pem`,
    /// `ca-key.pem`, `<node>.pem`, `<node>-key.pem`. Keys are readable by the
    /// owner only (0600). Refuses to overwrite an existing CA, so a second run
    /// cannot split a cluster into two trust domains by accident.
    @discardableResult
    public static func writeCluster(to directory: String, nodes: [ReplicaID], hosts: [String] = []) throws -> [String] {
        let files = FileManager.default
        try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let caPath = directory + "/ca.pem"
        guard !files.fileExists(atPath: caPath) else {
            throw CocoaError(.fileWriteFileExists, userInfo: [NSFilePathErrorKey: caPath,
                                                               NSLocalizedDescriptionKey: "\(caPath) already exists; remove the folder to start a new cluster"])
        }
        let authority = try makeAuthority()
        var written: [String] = []
        func write(_ text: String, _ name: String, secret: Bool) throws {
            let path = directory + "/" + name
            guard files.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: secret ? 0o600 : 0o644]) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
            }
            // createFile's permissions are filtered through the umask; make sure.
            try files.setAttributes([.posixPermissions: secret ? 0o600 : 0o644], ofItemAtPath: path)
            written.append(path)
        }
        try write(authority.privateKeyPEM, "ca-key.pem", secret: true)
        try write(authority.certificatePEM, "ca.pem", secret: false)
        for node in nodes {
            let issued = try issue(node: node, hosts: hosts, authority: authority)
            try write(issued.privateKeyPEM, "\(node.rawValue)-key.pem", secret: true)
            try write(issued.certificatePEM, "\(node.rawValue).pem", secret: false)
        }
        return written
    }
}
