/** Failure (and success, and check) notifications by SMTP e-mail and Slack-compatible webhook: docs/notifications.md. */
export { findNotifyConfig, NOTIFY_CONFIG_FILE, type NotifyConfigSource } from './find';
export { loadNotifyConfig, parseNotifyConfig, NOTIFY_EVENTS, type NotifyConfig, type NotifyEventKind } from './config';
export { buildMessage, type NotifyEvent, type NotifyMessage } from './message';
export { Notifier, type Delivery } from './notifier';
