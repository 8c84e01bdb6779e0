import CaseMeshDomain

/// What a token may do. Roles are ordered: each includes the one before it.
public enum Role: String, CaseIterable, Sendable, Codable {
    /// Reads everything.
    case viewer
    /// Reads everything; writes cases owned by its own region.
    case engineer
    /// An engineer who also records approvals and de-escalates in its own region.
    case regionalManager = "regional-manager"
    /// Everything, in every region.
    case globalManager = "global-manager"

    var rank: Int { Self.allCases.firstIndex(of: self)! }

    /// Whether the role is tied to one region (and so needs one).
    public var isRegional: Bool { self == .engineer || self == .regionalManager }
}

/// The caller behind a bearer token.
public struct Principal: Sendable, Equatable {
    public var name: String
    public var role: Role
    /// The region the role applies to (engineers and regional managers).
    public var region: Region?

    public init(name: String, role: Role, region: Region?) {
        self.name = name
        self.role = role
        self.region = region
    }

    /// What a write needs beyond reading.
    enum Permission {
        /// Creating or changing a case: engineer or above in the case's region.
        case write
        /// Approvals and de-escalation: regional manager or above in the case's region.
        case manage
    }

    /// Nil if allowed; otherwise why not, in words for the 403 body.
    func refusal(_ permission: Permission, caseRegion: Region) -> String? {
        let needed: Role = permission == .write ? .engineer : .regionalManager
        guard role.rank >= needed.rank else {
            return "a \(role.rawValue) token cannot \(permission == .write ? "change cases" : "record approvals or de-escalate"); it needs \(needed.rawValue) or above"
        }
        if role == .globalManager { return nil }
        guard region == caseRegion else {
            return "a \(role.rawValue) token of \(region?.rawValue ?? "no region") may only change cases owned by its own region; this case belongs to \(caseRegion.rawValue)"
        }
        return nil
    }
}
