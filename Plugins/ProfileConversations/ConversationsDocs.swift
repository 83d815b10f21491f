/// `GET /docs` on this surface: what a client of document 003 may call and emit here.
enum ConversationsDocs {
    static let html = """
    <!doctype html>
    <html lang="en"><head><meta charset="utf-8"><title>Conversations API (document 003) · Parley</title>
    <style>body{font:15px/1.5 system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .2em}
    td,th{text-align:left;padding:.2rem .6rem;border-bottom:1px solid #ddd}</style></head>
    <body><h1>Conversations API</h1>
    <p>Served by Parley's <code>profile_conversations</code> module: one-to-one conversations between people named by e-mail.
    Send <code>Authorization: Bearer &lt;access_token&gt;</code> on every route but login. Errors are <code>{"detail": "…"}</code>
    (422 for a field that fails validation).</p>
    <h2>REST</h2><table>
    <tr><th>POST</th><td><code>/api/auth/login</code></td><td>form, query or JSON: <code>email</code>, <code>password</code>, <code>name</code>, <code>profile_image</code>; creates the account on first use; a 24-hour token</td></tr>
    <tr><th>GET</th><td><code>/api/users/me</code></td><td>you</td></tr>
    <tr><th>GET</th><td><code>/api/users/search?query=</code></td><td>people by e-mail or name</td></tr>
    <tr><th>GET</th><td><code>/api/conversations</code></td><td>your conversations, newest activity first, with unread counts</td></tr>
    <tr><th>POST</th><td><code>/api/conversations/start</code></td><td><code>to_email</code>: create or get a conversation</td></tr>
    <tr><th>GET</th><td><code>/api/conversations/{id}/messages?skip=&amp;limit=</code></td><td><code>skip=0</code> is the newest page, oldest first within it</td></tr>
    <tr><th>POST</th><td><code>/api/conversations/{id}/mark-read</code></td><td>mark everything read</td></tr>
    <tr><th>POST</th><td><code>/api/messages/send</code></td><td><code>{to_email, message, message_type, reply_to}</code></td></tr>
    <tr><th>GET</th><td><code>/health</code></td><td>liveness</td></tr></table>
    <h2>Socket.IO</h2><p>Connect with <code>io(url, {auth: {token}})</code>.</p><table>
    <tr><th>emit</th><td><code>send_message</code>, <code>join_conversation</code>, <code>leave_conversation</code>, <code>mark_as_read</code>,
    <code>typing_start</code>, <code>typing_stop</code>, <code>get_online_users</code></td></tr>
    <tr><th>on</th><td><code>new_message</code>, <code>message_notification</code>, <code>user_online</code>, <code>user_offline</code>,
    <code>user_typing</code>, <code>online_users</code>, <code>marked_as_read</code>, <code>joined_conversation</code>,
    <code>left_conversation</code>, <code>error</code></td></tr></table>
    </body></html>
    """
}
