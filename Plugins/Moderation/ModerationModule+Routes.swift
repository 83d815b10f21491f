import Foundation
import Hummingbird
import ParleyKernel

/// `/api/v1/moderation/...`: slow mode, mutes and bans per channel (its OWNER/ADMIN), reports (any member files one;
/// channel admins and server admins list and resolve them).
struct ModerationRoutes {
    let service: ModerationService

    struct SlowModeBody: Decodable {
        let seconds: Int?
    }

    struct SanctionBody: Decodable {
        let userId: String?
        let durationSeconds: Int?
        let reason: String?
    }

    struct ReportBody: Decodable {
        let messageId: String?
        let reason: String?
    }

    struct ResolveBody: Decodable {
        let resolution: String?
    }

    func register(_ routes: RouterGroup<AuthenticatedContext>) {
        let maxReason = service.maxReasonLength
        routes.get("moderation/channels/{channelID}/slow-mode", doc: RouteDoc(
            "A channel's slow mode (members)", tags: ["moderation"], response: .data(ModerationSchemas.slowMode)), use: self.slowMode)
        routes.put("moderation/channels/{channelID}/slow-mode", doc: RouteDoc(
            "Set a channel's slow mode (OWNER/ADMIN)", tags: ["moderation"],
            description: "One message per `seconds` per member (owners and admins are exempt); 0 turns it off. Members hear `moderation:slow_mode`.",
            body: .json(.input(["seconds": .integer(minimum: 0, maximum: service.maxSlowModeSeconds)], required: ["seconds"])),
            response: .data(ModerationSchemas.slowMode), errors: [403]), use: self.setSlowMode)
        routes.get("moderation/channels/{channelID}/sanctions", doc: RouteDoc(
            "Mutes and bans in force in a channel (OWNER/ADMIN)", tags: ["moderation"],
            response: .data(.array(ModerationSchemas.sanction)), errors: [403]), use: self.sanctions)
        routes.post("moderation/channels/{channelID}/mutes", doc: RouteDoc(
            "Mute a member (OWNER/ADMIN): they still read, but cannot post", tags: ["moderation"],
            body: .json(ModerationSchemas.sanctionInput(maxReason: maxReason)),
            response: .data(ModerationSchemas.sanction, status: 201), errors: [403]), use: self.mute)
        routes.delete("moderation/channels/{channelID}/mutes/{userID}", doc: RouteDoc(
            "Lift a mute (OWNER/ADMIN)", tags: ["moderation"], response: .empty, errors: [403]), use: self.unmute)
        routes.post("moderation/channels/{channelID}/bans", doc: RouteDoc(
            "Ban a user (OWNER/ADMIN): removed at once, cannot rejoin until lifted or expired", tags: ["moderation"],
            body: .json(ModerationSchemas.sanctionInput(maxReason: maxReason)),
            response: .data(ModerationSchemas.sanction, status: 201), errors: [403]), use: self.ban)
        routes.delete("moderation/channels/{channelID}/bans/{userID}", doc: RouteDoc(
            "Lift a ban (OWNER/ADMIN); the user may join again", tags: ["moderation"], response: .empty, errors: [403]), use: self.unban)
        routes.post("moderation/reports", doc: RouteDoc(
            "Report a message (any member who can read it)", tags: ["moderation"],
            description: "The channel's owner and admins hear `moderation:report:created`; nobody else does.",
            body: .json(.input(["messageId": .uuid, "reason": .string(minLength: 1, maxLength: maxReason)], required: ["messageId", "reason"])),
            response: .data(ModerationSchemas.report, status: 201), errors: [409]), use: self.report)
        routes.get("moderation/reports", doc: RouteDoc(
            "Reports (channel owners/admins: their channels; server admins: all)", tags: ["moderation"],
            parameters: [.query("status", .string(enum: ["open", "resolved", "all"]), "Default `open`"),
                         .query("channelId", .uuid, "Only this channel's reports")] + RouteDoc.pageParameters(),
            response: .page(ModerationSchemas.report), errors: [403]), use: self.reports)
        routes.post("moderation/reports/{reportID}/resolve", doc: RouteDoc(
            "Resolve a report (the channel's OWNER/ADMIN, or a server admin)", tags: ["moderation"],
            body: .json(.input(["resolution": .string(maxLength: maxReason)]), required: false),
            response: .data(ModerationSchemas.report), errors: [403, 409]), use: self.resolve)
    }

    static func channelID(_ context: AuthenticatedContext) throws -> String {
        try pathID(context.parameters.get("channelID"), "Channel")
    }

    @Sendable func slowMode(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<SlowMode> {
        Envelope(try await service.slowMode(channelID: try Self.channelID(context), userID: context.userID), message: "Slow mode retrieved")
    }

    @Sendable func setSlowMode(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<SlowMode> {
        let channelID = try Self.channelID(context)
        let body = try await request.decodeJSON(SlowModeBody.self, limit: context.limits.maxBodyBytes)
        var validator = Validator()
        if let seconds = body.seconds {
            if !(0...service.maxSlowModeSeconds).contains(seconds) { validator.fail("seconds", "must be between 0 and \(service.maxSlowModeSeconds)") }
        } else {
            validator.fail("seconds", "is required (0 turns slow mode off)")
        }
        try validator.check()
        let slowMode = try await service.setSlowMode(channelID: channelID, seconds: body.seconds ?? 0, userID: context.userID)
        return Envelope(slowMode, message: slowMode.seconds == 0 ? "Slow mode off" : "Slow mode set")
    }

    @Sendable func sanctions(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<[Sanction]> {
        Envelope(try await service.sanctions(channelID: try Self.channelID(context), userID: context.userID), message: "Sanctions retrieved")
    }

    func sanctionFields(_ request: Request, context: AuthenticatedContext) async throws -> (userID: String, duration: Int?, reason: String?) {
        let body = try await request.decodeJSON(SanctionBody.self, limit: context.limits.maxBodyBytes)
        var validator = Validator()
        let userID = validator.id("userId", body.userId)
        if let duration = body.durationSeconds, !(1...ModerationService.maxDurationSeconds).contains(duration) {
            validator.fail("durationSeconds", "must be between 1 and \(ModerationService.maxDurationSeconds) (omit it for no expiry)")
        }
        let reason = validator.optionalString("reason", body.reason, length: 0...service.maxReasonLength)
        try validator.check()
        return (userID ?? "", body.durationSeconds, reason)
    }

    @Sendable func mute(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Sanction> {
        let channelID = try Self.channelID(context)
        let fields = try await sanctionFields(request, context: context)
        let sanction = try await service.sanction("mute", channelID: channelID, targetID: fields.userID, actorID: context.userID,
                                                  durationSeconds: fields.duration, reason: fields.reason)
        return Envelope(sanction, message: "Member muted", status: .created)
    }

    @Sendable func ban(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Sanction> {
        let channelID = try Self.channelID(context)
        let fields = try await sanctionFields(request, context: context)
        let sanction = try await service.sanction("ban", channelID: channelID, targetID: fields.userID, actorID: context.userID,
                                                  durationSeconds: fields.duration, reason: fields.reason)
        return Envelope(sanction, message: "User banned", status: .created)
    }

    @Sendable func unmute(_ request: Request, context: AuthenticatedContext) async throws -> EmptyEnvelope {
        try await service.lift("mute", channelID: try Self.channelID(context), targetID: try pathID(context.parameters.get("userID"), "User"),
                               actorID: context.userID)
        return EmptyEnvelope(nil, message: "Mute lifted")
    }

    @Sendable func unban(_ request: Request, context: AuthenticatedContext) async throws -> EmptyEnvelope {
        try await service.lift("ban", channelID: try Self.channelID(context), targetID: try pathID(context.parameters.get("userID"), "User"),
                               actorID: context.userID)
        return EmptyEnvelope(nil, message: "Ban lifted")
    }

    static func reportFields(messageId: String?, reason: String?, maxReason: Int) throws -> (String, String) {
        var validator = Validator()
        let messageID = validator.id("messageId", messageId)
        let reason = validator.requiredString("reason", reason, length: 1...maxReason)
        try validator.check()
        return (messageID ?? "", reason)
    }

    @Sendable func report(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Report> {
        let body = try await request.decodeJSON(ReportBody.self, limit: context.limits.maxBodyBytes)
        let (messageID, reason) = try Self.reportFields(messageId: body.messageId, reason: body.reason, maxReason: service.maxReasonLength)
        return Envelope(try await service.report(messageID: messageID, reason: reason, reporterID: context.userID),
                        message: "Report filed", status: .created)
    }

    @Sendable func reports(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<[Report]> {
        let query = request.uri.queryParameters
        let page = try PageRequest.parse(query, sortable: [("createdAt", "created_at")])
        var validator = Validator()
        var status: String? = "open"
        switch query["status"].map(String.init) {
        case nil, "open": status = "open"
        case "resolved": status = "resolved"
        case "all": status = nil
        default: validator.fail("status", "must be one of: open, resolved, all")
        }
        let channelID = query["channelId"].map(String.init).flatMap { validator.id("channelId", $0) }
        try validator.check()
        let (list, total) = try await service.reports(userID: context.userID, channelID: channelID, status: status, page: page)
        return Envelope(list, message: "Reports retrieved", pagination: page.pagination(total: total))
    }

    @Sendable func resolve(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Report> {
        let reportID = try pathID(context.parameters.get("reportID"), "Report")
        let body = try await request.decodeOptionalJSON(ResolveBody.self, limit: context.limits.maxBodyBytes)
        var validator = Validator()
        let resolution = validator.optionalString("resolution", body.resolution, length: 0...service.maxReasonLength)
        try validator.check()
        return Envelope(try await service.resolve(reportID: reportID, resolution: resolution, userID: context.userID), message: "Report resolved")
    }
}
