import Testing
import CaseMeshCRDT
@testable import CaseMeshDomain

/// Attendees of the communication plan: put (add or update), remove, and
/// address validation.
@Suite struct AttendeeTests {
    /// The communication plan lists who is kept informed; adding someone is recorded and trimmed.
    @Test func putAttendeeRecordsAttendeeAndEvent() throws {
        var c = try ReplicaCase()
        let delta = try c.run(.putAttendee(id: attendeeID("att-1"), name: " Cara Customer ", email: " cara@acme.example ",
                                           role: "Customer IT lead"))
        #expect(c.state.attendees == [Attendee(id: attendeeID("att-1"), name: "Cara Customer", email: "cara@acme.example",
                                               role: "Customer IT lead")])
        let event = try #require(delta.events.first?.event)
        #expect(event.kind == .attendeeAdded)
        #expect(event.ref == "att-1")
        #expect(event.to == "Cara Customer <cara@acme.example> (Customer IT lead)")
    }

    /// Putting an attendee exactly as recorded is a no-op: no write, no event.
    @Test func sameAttendeeTwiceWritesNothing() throws {
        var c = try ReplicaCase()
        try c.run(.putAttendee(id: attendeeID("att-1"), name: "Cara", email: "cara@acme.example", role: "IT"))
        let before = c.state
        let delta = try c.run(.putAttendee(id: attendeeID("att-1"), name: "Cara ", email: " cara@acme.example", role: "IT"))
        #expect(c.state == before)
        #expect(delta.causal.store.isBottom)
        #expect(delta.timeline.count == 0)
    }

    /// Putting an existing id with new details updates it in place.
    @Test func putUpdatesAnExistingAttendee() throws {
        var c = try ReplicaCase()
        try c.run(.putAttendee(id: attendeeID("att-1"), name: "Cara", email: "cara@acme.example", role: "IT"))
        try c.run(.putAttendee(id: attendeeID("att-1"), name: "Cara", email: "cara@acme.example", role: "CTO"))
        #expect(c.state.attendees.map(\.role) == ["CTO"])
    }

    /// An address the plan cannot mail to is refused: no "@", two "@", empty local part, a domain without a
    /// dot or with a dot at either end, white space inside, over 254 characters.
    @Test(arguments: ["", "cara", "cara@", "@acme.example", "cara@acme", "cara@.example", "cara@acme.example.",
                      "ca ra@acme.example", "cara@acme .example", "cara@@acme.example", "cara@x@acme.example",
                      "cara\t@acme.example", "cara@" + String(repeating: "a", count: 250) + ".com"])
    func invalidEmailIsRefused(email: String) throws {
        let c = try ReplicaCase()
        c.expectRefusal(.putAttendee(id: attendeeID("att-1"), name: "Cara", email: email, role: "IT"),
                        code: .validationFailed, field: "email", mentions: ["email", "name@example.com"])
    }

    /// Ordinary addresses are accepted and stored trimmed.
    @Test(arguments: [("cara@acme.example", "cara@acme.example"), ("c.a+r-a@mail.acme.co.uk", "c.a+r-a@mail.acme.co.uk"),
                      ("  cara@acme.example\n", "cara@acme.example")])
    func validEmails(email: String, stored: String) throws {
        var c = try ReplicaCase()
        try c.run(.putAttendee(id: attendeeID("att-1"), name: "Cara", email: email, role: "IT"))
        #expect(c.state.attendees.first?.email == stored)
    }

    /// An attendee needs a name and a role, each within its limit.
    @Test func emptyNameOrRoleIsRefused() throws {
        let c = try ReplicaCase()
        c.expectRefusal(.putAttendee(id: attendeeID("att-1"), name: " ", email: "cara@acme.example", role: "IT"),
                        code: .validationFailed, field: "name", mentions: ["name", "empty"])
        c.expectRefusal(.putAttendee(id: attendeeID("att-1"), name: "Cara", email: "cara@acme.example", role: ""),
                        code: .validationFailed, field: "role", mentions: ["role", "empty"])
        c.expectRefusal(.putAttendee(id: attendeeID("att-1"), name: String(repeating: "n", count: 121), email: "cara@acme.example", role: "IT"),
                        code: .validationFailed, field: "name", mentions: ["name", "at most 120"])
    }

    /// Removing an attendee drops only that one and records who was removed.
    @Test func removeAttendee() throws {
        var c = try ReplicaCase()
        try c.run(.putAttendee(id: attendeeID("att-1"), name: "Cara", email: "cara@acme.example", role: "IT"))
        try c.run(.putAttendee(id: attendeeID("att-2"), name: "Dev", email: "dev@acme.example", role: "Ops"))
        let delta = try c.run(.removeAttendee(attendeeID("att-1")))
        #expect(c.state.attendees.map(\.id) == [attendeeID("att-2")])
        #expect(delta.events.map(\.event.kind) == [.attendeeRemoved])
        #expect(delta.events.first?.event.ref == "att-1")
    }

    /// Removing someone who is not on the plan is reported, not silently ignored.
    @Test func removingAnUnknownAttendeeIsNotFound() throws {
        let c = try ReplicaCase()
        c.expectRefusal(.removeAttendee(attendeeID("att-9")), code: .notFound, field: "attendeeId",
                        mentions: ["no attendee", "att-9"])
    }
}
