import ArgumentParser
import CaseMeshDomain
import CaseMeshNode

struct Tokens: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "API tokens for people and scripts.",
        subcommands: [Add.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a token to a token file.",
            discussion: """
                Roles: viewer (reads everything), engineer (also writes cases of its region), \
                regional-manager (also approvals and de-escalation in its region), global-manager \
                (everything, every region). Engineers and regional managers need --region. \
                The file keeps only a hash of the token; the token is printed once, alone on the \
                last line of output. A running node reads the file when it starts.
                """
        )

        @Option(name: .long, help: ArgumentHelp("The token file (created with mode 0600 if missing).", valueName: "FILE"))
        var file: String

        @Option(name: .long, help: ArgumentHelp("Who the token is for; recorded as the author of its writes.", valueName: "NAME"))
        var name: String

        @Option(name: .long, help: ArgumentHelp("viewer, engineer, regional-manager or global-manager.", valueName: "ROLE"))
        var role: String

        @Option(name: .long, help: ArgumentHelp("The region an engineer or regional manager works in, e.g. EMEA.", valueName: "REGION"))
        var region: String?

        func run() throws {
            guard let parsedRole = Role(rawValue: role) else {
                throw ValidationError("role \"\(role)\" is not one of: \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let parsedRegion: Region?
            do {
                parsedRegion = try region.map { raw throws(DomainError) in try Region(raw) }
            } catch {
                throw ValidationError(error.message)
            }
            do {
                let token = try TokenFile.add(to: file, name: name, role: parsedRole, region: parsedRegion)
                print("added a \(parsedRole.rawValue) token for \(name)\(parsedRegion.map { " (\($0))" } ?? "") to \(file); it is shown only now:")
                print(token)
            } catch {
                throw ValidationError(error.description)
            }
        }
    }
}
