import ParleyKernel

extension ModerationModule {
    struct ReportInput: Decodable, Sendable {
        let messageId: String?
        let reason: String?
    }

    /// `moderation:report {messageId, reason}`: the realtime twin of `POST /moderation/reports`; the ack is the report.
    func registerEvents(_ registrar: ModuleRegistrar, service: ModerationService) {
        let maxReason = configuration.maxReasonLength
        registrar.on("moderation:report", ReportInput.self) { input, context in
            let (messageID, reason) = try ModerationRoutes.reportFields(messageId: input.messageId, reason: input.reason, maxReason: maxReason)
            return try await service.report(messageID: messageID, reason: reason, reporterID: context.userID)
        }
    }
}
