// TEMPORARY stand-in until the unsubscribe branch lands (same signature).
export async function unsubscribeUrl(userId: number, subscriberId: number, journeyId: number, actionId: number): Promise<string> {
  return `${process.env["PUBLIC_BASE_URL"] ?? "http://localhost:3000"}/unsubscribe/${userId}.${subscriberId}.${journeyId}.${actionId}`;
}
