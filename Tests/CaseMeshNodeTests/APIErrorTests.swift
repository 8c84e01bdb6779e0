import CaseMeshStore
import HTTPTypes
@testable import CaseMeshNode
import Testing

/// The store's refusals as the API reports them: each a status a client can
/// act on and a code it can match, the store's reason in the message.
@Suite struct APIErrorTests {
    @Test(arguments: [
        (StoreError.writeFailed(reason: "disk full"), HTTPResponse.Status.serviceUnavailable, "store_unavailable"),
        (StoreError.readOnly(reason: "disk full"), .serviceUnavailable, "store_read_only"),
        (StoreError.clockSkew("too far ahead"), .serviceUnavailable, "clock_skew"),
        (StoreError.searchUnavailable(reason: "the search index lacks changes"), .serviceUnavailable, "search_unavailable"),
        (StoreError.readFailed(reason: "I/O error"), .internalServerError, "internal"),
    ])
    func storeRefusalsMapToStatusAndCode(error: StoreError, status: HTTPResponse.Status, code: String) {
        let api = APIError(error)
        #expect(api.status == status)
        #expect(api.code == code)
        #expect(!api.message.isEmpty)
    }

    @Test func aSearchThatCannotBeAnsweredInFullSaysWhatStillWorks() {
        let api = APIError(StoreError.searchUnavailable(reason: "the search index lacks changes committed just before writes were refused"))
        #expect(api.message.contains("search is unavailable"))
        #expect(api.message.contains("reads of cases still work"))
    }
}
