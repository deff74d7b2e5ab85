// Errors the HTTP layer turns into 4xx answers with the offending field (and line/column for files).
export interface ErrorDetail {
  field?: string;
  row?: number;
  column?: string | number;
  line?: number;
  message: string;
}

export class ClientError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly detail: Omit<ErrorDetail, 'message'> & { errors?: ErrorDetail[] } = {},
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new ClientError(404, `${what} not found`);
