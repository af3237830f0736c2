import { Resource } from './resource';

export class Threepid extends Resource {}
